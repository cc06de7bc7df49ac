"""Step 0 of the migration guide: the Django example as it is, a Celery project, on the real
``celery worker`` (RabbitMQ). What its tasks do is what the migrated project must still do."""

from __future__ import annotations

from .shop import BIN, Shop


def test_the_original_project_runs_on_celery_worker(shop: Shop) -> None:
    argv = [str(BIN / "celery"), "-A", "shop", "worker", "-Q", shop.queue, "-P", "threads", "-c", "4",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"]  # fmt: skip
    with shop.worker("celery-original", argv, " ready.") as log:
        ids = shop.place_orders(4, flaky_every=2, backorder_every=3)
        orders = shop.wait_until_confirmed(ids, [log])
    by_number = [orders[pk] for pk in ids]
    # Order 2 and 4 met a gateway timeout once: Celery's autoretry charged them on the 2nd try.
    assert [o.charge_attempts for o in by_number] == [1, 2, 1, 2]
    # Order 3 waited for stock: self.retry(countdown=1), reserved on the 2nd try.
    assert [o.reserve_attempts for o in by_number] == [1, 1, 2, 1]
    text = log.read_text()
    assert "Retry in 1s: GatewayTimeout" in text
    assert "Retry in 1s: OutOfStock" in text
