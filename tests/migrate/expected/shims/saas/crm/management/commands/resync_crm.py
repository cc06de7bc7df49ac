from django.core.management.base import BaseCommand

from saas.crm.tasks import enrich_contact, push_to_salesforce, score_lead, sync_contact


class Command(BaseCommand):
    help = "Queue a full CRM resync (one job per contact)."

    def add_arguments(self, parser):
        parser.add_argument("--enrich", action="store_true")

    def handle(self, *args, enrich=False, **options):
        from saas.crm.models import Contact

        for contact in Contact.objects.iterator():
            sync_contact.delay(contact.id)
            score_lead.apply_async(args=(contact.id,), queue="scoring", countdown=contact.id % 300)
            push_to_salesforce.apply_async(args=(contact.id, {}), priority=1)
            if enrich:
                enrich_contact.delay(contact.id)
        self.stdout.write("queued")
