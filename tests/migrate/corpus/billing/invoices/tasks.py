from celery.utils.log import get_task_logger

from billing.celery import app

logger = get_task_logger(__name__)


class PdfRendererDown(Exception):
    """The PDF service did not answer."""


@app.task
def generate_monthly_invoices():
    logger.info("generating invoices")
    return 0


@app.task(bind=True, max_retries=3, default_retry_delay=120)
def render_invoice_pdf(self, invoice_id):
    """Render and store the PDF; the renderer is often overloaded."""
    try:
        logger.info("rendering %s as job %s", invoice_id, self.request.id)
    except PdfRendererDown as exc:
        raise self.retry(exc=exc)
    return f"invoices/{invoice_id}.pdf"


@app.task(ignore_result=True)
def purge_draft_invoices(older_than_days=30):
    logger.info("purging drafts older than %s days", older_than_days)


@app.task(name="billing.send_invoice", queue="mail", autoretry_for=(OSError,), retry_kwargs={"max_retries": 5, "countdown": 30})
def send_invoice(invoice_id, to):
    logger.info("sending %s to %s", invoice_id, to)
