from django.db import transaction

from propertyapp import tasks
from lexigram_compat.celery import current_app


def month_start(month, leases):
    current_app().queue_handle().enqueue_sync(tasks.post_rent_charges(month))
    for lease in leases:
        current_app().queue_handle().enqueue_sync(tasks.collect_rent(lease.id), delay=lease.grace_days * 86400)
        current_app().queue_handle().enqueue_sync(tasks.send_notice(lease.tenant_id, "rent_due", context={"month": month}))


def open_ticket(form):
    ticket = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(tasks.dispatch_contractor(ticket.id, ticket.trade)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(tasks.send_notice(ticket.tenant_id, "ticket_opened")))
    if ticket.is_emergency:
        current_app().queue_handle().enqueue_sync(tasks.emergency_page(ticket.unit_id, ticket.kind), priority=9)
    return ticket


def resolve(ticket, resolution):
    current_app().queue_handle().enqueue_sync(tasks.close_ticket(ticket.id, resolution))
    current_app().queue_handle().enqueue_sync(tasks.send_notice(ticket.tenant_id, "ticket_closed"), delay=60)


def inspect(units):
    for unit in units:
        current_app().queue_handle().enqueue_sync(tasks.inspection_report(unit.id), queue="reports")


def expiring(leases):
    for lease in leases:
        current_app().queue_handle().enqueue_sync(tasks.renew_lease_offer(lease_id=lease.id, months=24), eta=lease.offer_at)
        current_app().queue_handle().enqueue_sync(tasks.send_notice(lease.tenant_id, "renewal_offer"))
