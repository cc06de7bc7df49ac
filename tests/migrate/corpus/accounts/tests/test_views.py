from unittest.mock import patch

from accounts import views


@patch("accounts.tasks.verify_email.apply_async")  # LEFT
def test_signup_sends_verification(apply_async):
    views.signup(None, type("U", (), {"id": 1, "avatar_url": None})(), "t")
    apply_async.assert_called_once()


@patch("accounts.tasks.deactivate_stale_accounts.delay")
def test_patch_of_a_task_left_on_the_shim_keeps_working(delay):
    delay.assert_not_called()
