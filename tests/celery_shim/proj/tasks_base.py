"""A ``Task`` subclass as Celery code writes one (``base=``): handlers that log what
happened, class attributes as the defaults of its tasks. The handlers report to the
recorder file the caller names in the ``report-to`` header, from whichever process
runs them."""

from lexigram_compat.celery import Task
from tests.conformance.recorder import Recorder

from .celery_app import app


class ReportingTask(Task):
    autoretry_for = (ConnectionError,)
    max_retries = 1
    default_retry_delay = 0.05

    def _report(self, point, *detail):
        path = (self.request.headers or {}).get("report-to")
        if path:
            Recorder(path).record(
                "handler",
                point=point,
                job_id=self.request.id,
                retries=self.request.retries,
                detail=list(detail),
            )

    def before_start(self, task_id, args, kwargs):
        self._report("before_start", task_id == self.request.id, list(args), kwargs)

    def __call__(self, *args, **kwargs):
        self._report("__call__", list(args))
        return super().__call__(*args, **kwargs)

    def on_success(self, retval, task_id, args, kwargs):
        self._report("on_success", retval, list(args))

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        self._report("on_retry", repr(exc), type(einfo.exception).__name__)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        self._report("on_failure", repr(exc), type(einfo.exception).__name__)

    def after_return(self, status, retval, task_id, args, kwargs, einfo):  # noqa: PLR0917 - Celery's
        self._report("after_return", status, repr(retval))


@app.task(base=ReportingTask)
def connect(fail_times: int) -> str:
    retries = connect.request.retries
    if retries < fail_times:
        raise ConnectionError(f"attempt {retries + 1}: refused")
    return f"connected after {retries} retries"
