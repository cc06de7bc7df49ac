from marketplace.reviews.tasks import scan_review, translate_review
from lexigram_compat.celery import current_app


def submit(review):
    current_app().queue_handle().enqueue_sync(scan_review(review.id))
    for language in ("de", "fr"):
        current_app().queue_handle().enqueue_sync(translate_review(review.id, language))
