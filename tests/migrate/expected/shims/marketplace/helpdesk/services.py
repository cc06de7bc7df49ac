from django.db import transaction

from marketplace.helpdesk.tasks import assign_ticket, send_ticket_reply, sync_ticket_to_crm


def open_ticket(form):
    ticket = form.save()
    transaction.on_commit(lambda: assign_ticket.delay(ticket.id))
    transaction.on_commit(lambda: sync_ticket_to_crm.delay(ticket.id))
    return ticket


def reply(ticket, body):
    send_ticket_reply.apply_async(args=(ticket.id, body), headers={"agent": ticket.agent_id})
