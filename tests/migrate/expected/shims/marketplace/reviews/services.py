from marketplace.reviews.tasks import scan_review, translate_review


def submit(review):
    scan_review.delay(review.id)
    for language in ("de", "fr"):
        translate_review.delay(review.id, language)
