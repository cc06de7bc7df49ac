from unittest import mock

from reminders import tasks

MODULE = "reminders.tasks"


def test_schedule_reminders_sends_deliveries():
    with mock.patch(f"{MODULE}.deliver.delay") as delay:  # LEFT
        tasks.schedule_reminders([1, 2])
    assert delay.call_count == 2
