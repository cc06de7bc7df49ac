from unittest import mock

import pytest

from billing.payments import webhooks


@pytest.fixture
def refund_delay():
    with mock.patch("billing.payments.tasks.refund.delay") as delay:
        yield delay


def test_refund_webhook(refund_delay, rf):
    webhooks.stripe_webhook(rf.post("/", data=b'{"type": "charge.refunded"}'))
    assert refund_delay.called


@mock.patch("billing.payments.gateway.charge")
def test_gateway_patch_is_not_a_task(charge):
    charge.return_value = 1
