from logging import getLogger as get_task_logger

from billing.celery import app
from lexigram_compat import JobContext, Retry, RetryPolicy, scheduled, task

logger = get_task_logger(__name__)


class PdfRendererDown(Exception):
    """The PDF service did not answer."""


@scheduled(cron="0 2 1 * *", name="month-end-invoices")
@task(retry=RetryPolicy(max_attempts=1))
def generate_monthly_invoices():
    logger.info("generating invoices")
    return 0


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=120.0,
        backoff_factor=1.0,
        max_delay=120.0,
        jitter=False,
        retry_on=(),
    ),
)
def render_invoice_pdf(invoice_id, *, ctx: JobContext):
    """Render and store the PDF; the renderer is often overloaded."""
    try:
        logger.info("rendering %s as job %s", invoice_id, ctx.job_id)
    except PdfRendererDown as exc:
        raise Retry(exc=exc)
    return f"invoices/{invoice_id}.pdf"


@task(retry=RetryPolicy(max_attempts=1))
def purge_draft_invoices(older_than_days=30):
    logger.info("purging drafts older than %s days", older_than_days)


@task(
    name="billing.send_invoice",
    queue="mail",
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=30.0,
        backoff_factor=1.0,
        max_delay=30.0,
        jitter=False,
        retry_on=(OSError,),
    ),
)
def send_invoice(invoice_id, to):
    logger.info("sending %s to %s", invoice_id, to)
