from billing.invoices.tasks import render_invoice_pdf, send_invoice
from lexigram_compat.celery import current_app


def finalize(invoices):
    for invoice in invoices:
        invoice.finalize()
        current_app().queue_handle().enqueue_sync(render_invoice_pdf(invoice.id), delay=10)
        current_app().queue_handle().enqueue_sync(send_invoice(invoice_id=invoice.id, to=invoice.email), queue="mail")


def resend(invoice):
    current_app().queue_handle().enqueue_sync(send_invoice(invoice.id, invoice.email))
