from billing.invoices.tasks import render_invoice_pdf, send_invoice


def finalize(invoices):
    for invoice in invoices:
        invoice.finalize()
        render_invoice_pdf.apply_async(args=[invoice.id], countdown=10)
        send_invoice.apply_async(kwargs={"invoice_id": invoice.id, "to": invoice.email}, queue="mail")


def resend(invoice):
    send_invoice.delay(invoice.id, invoice.email)
