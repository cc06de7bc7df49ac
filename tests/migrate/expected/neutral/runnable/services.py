from runnable.tasks import add, auto, boom, flaky, gives_up, note
from lexigram_compat.celery import current_app


def start():
    ids = {
        "add": current_app().queue_handle().enqueue_sync(add(2, 3)).unwrap(),
        "flaky": current_app().queue_handle().enqueue_sync(flaky(2), delay=0).unwrap(),
        "gives_up": current_app().queue_handle().enqueue_sync(gives_up()).unwrap(),
        "auto": current_app().queue_handle().enqueue_sync(auto(key="k")).unwrap(),
        "boom": current_app().queue_handle().enqueue_sync(boom()).unwrap(),
    }
    for text in ("a", "b"):
        current_app().queue_handle().enqueue_sync(note(text))
    return ids


async def start_from_async_code():
    return (await current_app().queue_handle().enqueue(add(20, 22))).unwrap()
