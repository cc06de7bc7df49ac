from unittest import mock

from storefront.orders import views


@mock.patch("storefront.orders.tasks.send_order_confirmation.delay")  # LEFT
def test_checkout_sends_confirmation(delay):
    views.checkout(mock.Mock(), mock.Mock(id=1, email="a@b.c"))
    delay.assert_called_once()


def test_capture_payment_eager():
    from storefront.orders.tasks import capture_payment

    result = capture_payment.apply(args=(1, 100))  # LEFT
    assert result.get()["captured"] == 100


def test_confirmation_body_runs_inline():
    from storefront.orders.tasks import send_order_confirmation

    send_order_confirmation.run(1, "a@b.c")


def test_capture_payment_inline():
    from storefront.orders.tasks import capture_payment

    assert capture_payment.run(1, 100)["captured"] == 100  # LEFT
