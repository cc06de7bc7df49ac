from django.db import transaction

from saas.forum import tasks


def new_post(request, thread, form):
    post = form.save()
    transaction.on_commit(lambda: tasks.check_spam.delay(post.id))
    transaction.on_commit(lambda: tasks.notify_subscribers.delay(thread.id, post.id))
    tasks.render_markdown.delay(post.id)
    tasks.recount_reputation.apply_async(args=(request.user.id,), countdown=120)
    return post


def send_digests(users):
    for user in users:
        tasks.send_digest.apply_async(args=(user.id,), queue="digests")


def edit_post(post):
    tasks.render_markdown.delay(post.id)
    tasks.check_spam.apply_async((post.id,), priority=4)
