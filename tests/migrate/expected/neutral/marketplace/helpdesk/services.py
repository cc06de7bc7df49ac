from django.db import transaction

from marketplace.helpdesk.tasks import assign_ticket, send_ticket_reply, sync_ticket_to_crm
from lexigram_compat.celery import current_app


def open_ticket(form):
    ticket = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(assign_ticket(ticket.id)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(sync_ticket_to_crm(ticket.id)))
    return ticket


def reply(ticket, body):
    current_app().queue_handle().enqueue_sync(send_ticket_reply(ticket.id, body), headers={"agent": ticket.agent_id})
