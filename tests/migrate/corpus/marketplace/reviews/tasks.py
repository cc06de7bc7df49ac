from celery import shared_task


@shared_task
def moderation_digest(channel):
    return channel


@shared_task(ignore_result=True, queue="moderation")
def scan_review(review_id):
    return review_id


@shared_task(rate_limit="100/h")
def translate_review(review_id, language):
    return language
