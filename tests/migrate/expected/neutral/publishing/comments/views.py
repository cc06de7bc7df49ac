from django.db import transaction

from publishing.comments.tasks import check_links, moderate_comment, notify_author, notify_thread, recount_comments
from lexigram_compat.celery import current_app


def post_comment(request, article, form):
    comment = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(moderate_comment(comment.id)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(notify_author(article.id, comment.id)))
    if comment.parent_id:
        current_app().queue_handle().enqueue_sync(notify_thread(comment.parent_id))
    if comment.urls:
        current_app().queue_handle().enqueue_sync(check_links(comment.id, comment.urls), delay=1)
    current_app().queue_handle().enqueue_sync(recount_comments(article.id))
    return comment


def delete_comment(request, comment):
    current_app().queue_handle().enqueue_sync(recount_comments(comment.article_id), delay=5)
