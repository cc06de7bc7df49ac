from django.db import transaction

from publishing.comments.tasks import check_links, moderate_comment, notify_author, notify_thread, recount_comments


def post_comment(request, article, form):
    comment = form.save()
    transaction.on_commit(lambda: moderate_comment.delay(comment.id))
    transaction.on_commit(lambda: notify_author.delay(article.id, comment.id))
    if comment.parent_id:
        notify_thread.delay(comment.parent_id)
    if comment.urls:
        check_links.apply_async(args=(comment.id, comment.urls), countdown=1)
    recount_comments.delay(article.id)
    return comment


def delete_comment(request, comment):
    recount_comments.apply_async(args=(comment.article_id,), countdown=5)
