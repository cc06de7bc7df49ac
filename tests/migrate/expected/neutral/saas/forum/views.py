from django.db import transaction

from saas.forum import tasks
from lexigram_compat.celery import current_app


def new_post(request, thread, form):
    post = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(tasks.check_spam(post.id)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(tasks.notify_subscribers(thread.id, post.id)))
    current_app().queue_handle().enqueue_sync(tasks.render_markdown(post.id))
    current_app().queue_handle().enqueue_sync(tasks.recount_reputation(request.user.id), delay=120)
    return post


def send_digests(users):
    for user in users:
        current_app().queue_handle().enqueue_sync(tasks.send_digest(user.id), queue="digests")


def edit_post(post):
    current_app().queue_handle().enqueue_sync(tasks.render_markdown(post.id))
    current_app().queue_handle().enqueue_sync(tasks.check_spam(post.id), priority=4)
