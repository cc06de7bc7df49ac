from lexigram_compat import RetryPolicy, scheduled, task


@scheduled(cron="0 9 * * 1-5", name="moderation-digest", kwargs={"channel": "#mods"})
@task(retry=RetryPolicy(max_attempts=1))
def moderation_digest(channel):
    return channel


@task(queue="moderation", retry=RetryPolicy(max_attempts=1))
def scan_review(review_id):
    return review_id


@task(rate_limit="100/h", retry=RetryPolicy(max_attempts=1))
def translate_review(review_id, language):
    return language
