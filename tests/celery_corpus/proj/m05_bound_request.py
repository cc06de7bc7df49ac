"""bind=True: self.request.id/retries/args/kwargs, self.name, a given task_id."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True)
def whoami(self, tag, note, flag=False):
    record(
        tag,
        "run",
        id=self.request.id,
        retries=self.request.retries,
        args=list(self.request.args),
        kwargs=self.request.kwargs,
        name=self.name,
    )
    return {"id": self.request.id, "note": note, "flag": flag}


def scenario():
    return {"a": whoami.apply_async((f"{M}/a", "n"), {"flag": True}, task_id="corpus-m05-whoami")}


EXPECT = {"a": ("SUCCESS", {"id": "corpus-m05-whoami", "note": "n", "flag": True})}
ATTEMPTS = {"a": 1}
