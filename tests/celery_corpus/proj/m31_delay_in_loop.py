"""Call sites in a loop: one .delay per item, the .id of each result read."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def index_item(tag, item_id):
    record(tag, "run", item=item_id)
    return item_id * 10


def scenario():
    handles = {}
    for item_id in range(4):
        result = index_item.delay(f"{M}/item{item_id}", item_id)
        assert result.id
        handles[f"item{item_id}"] = result
    return handles


EXPECT = {f"item{i}": ("SUCCESS", i * 10) for i in range(4)}
ATTEMPTS = {f"item{i}": 1 for i in range(4)}
