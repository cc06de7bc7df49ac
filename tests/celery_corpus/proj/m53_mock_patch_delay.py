"""mock.patch("...task.delay") as test suites write it: the call is intercepted, nothing is
enqueued; after the patch the real .delay enqueues again."""

from unittest import mock

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task
def send_sms(tag, number):
    record(tag, "run", number=number)
    return f"sent to {number}"


def signup(number):
    return send_sms.delay(f"{M}/real", number)


def scenario():
    with mock.patch(f"proj.{M}.send_sms.delay") as patched:
        signup("+100")
        intercepted = [list(call.args) for call in patched.call_args_list]
    return {"intercepted": intercepted, "real": signup("+200")}


EXPECT = {"intercepted": ("VALUE", [[f"{M}/real", "+100"]]), "real": ("SUCCESS", "sent to +200")}
ATTEMPTS = {"real": 1}
