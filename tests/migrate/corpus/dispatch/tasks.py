"""Notification dispatch: the channel's task is chosen at run time."""
from celery import shared_task


@shared_task(queue="sms")  # LEFT
def send_sms(user_id, text):
    return text


@shared_task(queue="push")  # LEFT
def send_push(user_id, text):
    return text


@shared_task(queue="mail")
def send_email(user_id, text):
    return text


CHANNELS = {
    "sms": send_sms,
    "push": send_push,
}


def notify(user, text):
    task = CHANNELS[user.channel]
    task.delay(user.id, text)  # LEFT
    send_email.delay(user.id, text)


def notify_by_name(name, user, text):
    import dispatch.tasks as module

    getattr(module, f"send_{name}").delay(user.id, text)  # LEFT
