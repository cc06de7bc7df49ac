"""Property management: rent, maintenance and tenant notices."""
from celery import shared_task


@shared_task(queue="billing")
def post_rent_charges(month):
    return month


@shared_task(queue="billing", autoretry_for=(ConnectionError,), retry_backoff=10, max_retries=4)
def collect_rent(lease_id):
    return lease_id


@shared_task(ignore_result=True, queue="mail")
def send_notice(tenant_id, template, context=None):
    return template


@shared_task(bind=True, max_retries=3, default_retry_delay=300)
def dispatch_contractor(self, ticket_id, trade):
    try:
        return trade
    except ConnectionError as exc:
        raise self.retry(exc=exc)


@shared_task
def close_ticket(ticket_id, resolution):
    return resolution


@shared_task(time_limit=180)
def inspection_report(unit_id):
    return unit_id


@shared_task(priority=9, queue="alerts")
def emergency_page(unit_id, kind):
    return kind


@shared_task
def renew_lease_offer(lease_id, months=12):
    return months
