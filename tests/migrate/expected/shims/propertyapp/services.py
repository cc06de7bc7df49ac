from django.db import transaction

from propertyapp import tasks


def month_start(month, leases):
    tasks.post_rent_charges.delay(month)
    for lease in leases:
        tasks.collect_rent.apply_async(args=(lease.id,), countdown=lease.grace_days * 86400)
        tasks.send_notice.delay(lease.tenant_id, "rent_due", context={"month": month})


def open_ticket(form):
    ticket = form.save()
    transaction.on_commit(lambda: tasks.dispatch_contractor.delay(ticket.id, ticket.trade))
    transaction.on_commit(lambda: tasks.send_notice.delay(ticket.tenant_id, "ticket_opened"))
    if ticket.is_emergency:
        tasks.emergency_page.apply_async(args=(ticket.unit_id, ticket.kind), priority=9)
    return ticket


def resolve(ticket, resolution):
    tasks.close_ticket.delay(ticket.id, resolution)
    tasks.send_notice.apply_async(args=(ticket.tenant_id, "ticket_closed"), countdown=60)


def inspect(units):
    for unit in units:
        tasks.inspection_report.apply_async(args=(unit.id,), queue="reports")


def expiring(leases):
    for lease in leases:
        tasks.renew_lease_offer.apply_async(kwargs={"lease_id": lease.id, "months": 24}, eta=lease.offer_at)
        tasks.send_notice.delay(lease.tenant_id, "renewal_offer")
