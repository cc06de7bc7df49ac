from django.core.management.base import BaseCommand

from saas.crm.tasks import enrich_contact, push_to_salesforce, score_lead, sync_contact
from lexigram_compat.celery import current_app


class Command(BaseCommand):
    help = "Queue a full CRM resync (one job per contact)."

    def add_arguments(self, parser):
        parser.add_argument("--enrich", action="store_true")

    def handle(self, *args, enrich=False, **options):
        from saas.crm.models import Contact

        for contact in Contact.objects.iterator():
            current_app().queue_handle().enqueue_sync(sync_contact(contact.id))
            current_app().queue_handle().enqueue_sync(score_lead(contact.id), queue="scoring", delay=contact.id % 300)
            current_app().queue_handle().enqueue_sync(push_to_salesforce(contact.id, {}), priority=1)
            if enrich:
                current_app().queue_handle().enqueue_sync(enrich_contact(contact.id))
        self.stdout.write("queued")
