from publishing.celery import app


@app.task(queue="moderation")
def moderate_comment(comment_id):
    return "ok"


@app.task(ignore_result=True)
def notify_author(article_id, comment_id):
    return comment_id


@app.task(ignore_result=True)
def notify_thread(comment_id):
    return comment_id


@app.task(bind=True, max_retries=2)
def check_links(self, comment_id, urls):
    try:
        return urls
    except ConnectionError as exc:
        raise self.retry(exc=exc, countdown=30)


@app.task
def recount_comments(article_id):
    return article_id
