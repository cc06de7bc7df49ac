"""Property management: rent, maintenance and tenant notices."""
from lexigram_compat import JobContext, Retry, RetryPolicy, task


@task(queue="billing", retry=RetryPolicy(max_attempts=1))
def post_rent_charges(month):
    return month


@task(
    queue="billing",
    retry=RetryPolicy(
        max_attempts=5,
        base_delay=10.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(ConnectionError,),
    ),
)
def collect_rent(lease_id):
    return lease_id


@task(queue="mail", retry=RetryPolicy(max_attempts=1))
def send_notice(tenant_id, template, context=None):
    return template


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=300.0,
        backoff_factor=1.0,
        max_delay=300.0,
        jitter=False,
        retry_on=(),
    ),
)
def dispatch_contractor(ticket_id, trade):
    try:
        return trade
    except ConnectionError as exc:
        raise Retry(exc=exc)


@task(retry=RetryPolicy(max_attempts=1))
def close_ticket(ticket_id, resolution):
    return resolution


@task(timeout=180, retry=RetryPolicy(max_attempts=1))
def inspection_report(unit_id):
    return unit_id


@task(queue="alerts", priority=9, retry=RetryPolicy(max_attempts=1))
def emergency_page(unit_id, kind):
    return kind


@task(retry=RetryPolicy(max_attempts=1))
def renew_lease_offer(lease_id, months=12):
    return months
