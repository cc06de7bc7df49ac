from py314.tasks import push


def on_event(event):
    try:
        push.apply_async(args=(event,), countdown=1)
    except RuntimeError, OSError:
        pass
