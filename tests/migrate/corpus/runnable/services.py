from runnable.tasks import add, auto, boom, flaky, gives_up, note


def start():
    ids = {
        "add": add.delay(2, 3).id,
        "flaky": flaky.apply_async(args=(2,), countdown=0).id,
        "gives_up": gives_up.delay().id,
        "auto": auto.apply_async(kwargs={"key": "k"}).id,
        "boom": boom.delay().id,
    }
    for text in ("a", "b"):
        note.delay(text)
    return ids


async def start_from_async_code():
    return add.delay(20, 22).id
