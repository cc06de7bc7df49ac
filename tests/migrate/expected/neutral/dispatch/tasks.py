"""Notification dispatch: the channel's task is chosen at run time."""
from lexigram_compat.celery import shared_task, current_app
from lexigram_compat import RetryPolicy, task


@shared_task(queue="sms")  # LEFT
def send_sms(user_id, text):
    return text


@shared_task(queue="push")  # LEFT
def send_push(user_id, text):
    return text


@task(queue="mail", retry=RetryPolicy(max_attempts=1))
def send_email(user_id, text):
    return text


CHANNELS = {
    "sms": send_sms,
    "push": send_push,
}


def notify(user, text):
    task = CHANNELS[user.channel]
    task.delay(user.id, text)  # LEFT
    current_app().queue_handle().enqueue_sync(send_email(user.id, text))


def notify_by_name(name, user, text):
    import dispatch.tasks as module

    getattr(module, f"send_{name}").delay(user.id, text)  # LEFT
