"""More of self.request as Celery task code reads it: task, called_directly, is_eager,
eta of a delayed job (an ISO string on Celery), delivery_info, and calling the bound task
in-process (where Celery's request has no task name: not read there)."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(bind=True)
def inspect_request(self, tag):
    request = self.request
    record(
        tag,
        "run",
        task=None if request.called_directly else request.task,
        called_directly=request.called_directly,
        is_eager=bool(request.is_eager),
        has_eta=request.eta is not None,
        eta_type=type(request.eta).__name__,
        routing_key=(request.delivery_info or {}).get("routing_key"),  # None when called directly
    )
    return request.called_directly


def scenario():
    record(f"{M}/delayed", "sent")
    return {
        "now": inspect_request.delay(f"{M}/now"),
        "delayed": inspect_request.apply_async((f"{M}/delayed",), countdown=0.5),
        "in_process": inspect_request(f"{M}/in_process"),
    }


EXPECT = {"now": ("SUCCESS", False), "delayed": ("SUCCESS", False), "in_process": ("VALUE", True)}
ATTEMPTS = {"now": 1, "delayed": 1, "in_process": 1}
DELAYS = {"delayed": [(0.5, 0.5)]}
