from django.db import transaction

from saas.crm import tasks
from saas.crm.tasks import alert_owner, enrich_contact, log_activity, score_lead


def save_contact(form):
    contact = form.save()
    transaction.on_commit(lambda: tasks.sync_contact.delay(contact.id))
    transaction.on_commit(lambda: enrich_contact.apply_async(args=(contact.id,), kwargs={"provider": "apollo"}))
    log_activity.delay(contact.id, "saved")
    return contact


def import_contacts(rows):
    ids = []
    for row in rows:
        contact = row.save()
        ids.append(contact.id)
        tasks.sync_contact.apply_async(args=(contact.id,), countdown=5)
        score_lead.delay(contact.id)
        log_activity.apply_async((contact.id, "imported"), {"payload": row.raw})
    tasks.merge_duplicates.delay(ids)
    return ids


def update_contact(contact, fields):
    tasks.push_to_salesforce.delay(contact.id, fields)
    log_activity.delay(contact.id, "updated", payload=fields)


def hot_lead(contact):
    alert_owner.apply_async(args=(contact.id, "hot lead"), priority=9)
    score_lead.apply_async((contact.id,), queue="scoring")


def export(account):
    return tasks.export_contacts.delay(account.id, fmt="xlsx").id
