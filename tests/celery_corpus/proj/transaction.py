"""A tiny stand-in for ``django.db.transaction``: ``on_commit`` callbacks run after
the outermost ``atomic()`` block commits, and are dropped when it rolls back."""

import contextlib

_pending: list = []
_depth = [0]


@contextlib.contextmanager
def atomic():
    _depth[0] += 1
    try:
        yield
    except BaseException:
        _depth[0] -= 1
        if _depth[0] == 0:
            _pending.clear()
        raise
    _depth[0] -= 1
    if _depth[0] == 0:
        callbacks = list(_pending)
        _pending.clear()
        for callback in callbacks:
            callback()


def on_commit(callback):
    if _depth[0] == 0:
        callback()
    else:
        _pending.append(callback)
