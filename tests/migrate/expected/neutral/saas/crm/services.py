from django.db import transaction

from saas.crm import tasks
from saas.crm.tasks import alert_owner, enrich_contact, log_activity, score_lead
from lexigram_compat.celery import current_app


def save_contact(form):
    contact = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(tasks.sync_contact(contact.id)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(enrich_contact(contact.id, provider="apollo")))
    current_app().queue_handle().enqueue_sync(log_activity(contact.id, "saved"))
    return contact


def import_contacts(rows):
    ids = []
    for row in rows:
        contact = row.save()
        ids.append(contact.id)
        current_app().queue_handle().enqueue_sync(tasks.sync_contact(contact.id), delay=5)
        current_app().queue_handle().enqueue_sync(score_lead(contact.id))
        current_app().queue_handle().enqueue_sync(log_activity(contact.id, "imported", payload=row.raw))
    current_app().queue_handle().enqueue_sync(tasks.merge_duplicates(ids))
    return ids


def update_contact(contact, fields):
    current_app().queue_handle().enqueue_sync(tasks.push_to_salesforce(contact.id, fields))
    current_app().queue_handle().enqueue_sync(log_activity(contact.id, "updated", payload=fields))


def hot_lead(contact):
    current_app().queue_handle().enqueue_sync(alert_owner(contact.id, "hot lead"), priority=9)
    current_app().queue_handle().enqueue_sync(score_lead(contact.id), queue="scoring")


def export(account):
    return current_app().queue_handle().enqueue_sync(tasks.export_contacts(account.id, fmt="xlsx")).unwrap()
