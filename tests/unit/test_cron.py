"""A cron expression that can never fire is refused; an invalid one names the wrong field (issue 13)."""

from __future__ import annotations

import re

import pytest

from lexigram_compat import TaskRegistry, scheduled, task
from lexigram_compat.errors import TaskRegistrationError


def declare(cron: str) -> None:
    registry = TaskRegistry()

    @task(name="cron.job", registry=registry)
    async def job() -> None:
        return None

    scheduled(cron, registry=registry)(job)


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [
        ("0 0 31 2 *", "can never fire: no month in the month field (2) has day 31"),
        ("0 0 30 2 *", "can never fire"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
    ],
)
def test_an_expression_that_can_never_fire_is_refused(cron: str, fragment: str) -> None:
    with pytest.raises(TaskRegistrationError, match=re.escape(fragment)):
        declare(cron)


@pytest.mark.parametrize(
    ("cron", "fragment"),
    [
        ("61 * * * *", "the minute field '61' is not valid (0-59)"),
        ("0 24 * * *", "the hour field '24' is not valid (0-23)"),
        ("0 0 0 * *", "the day-of-month field '0' is not valid (1-31"),
        ("0 0 * 13 *", "the month field '13' is not valid (1-12 or jan-dec)"),
        ("0 0 * * funday", "the day-of-week field 'funday' is not valid (0-6 or sun-sat)"),
        ("0 0 * *", "has 4 fields"),
    ],
)
def test_an_invalid_expression_names_the_wrong_field(cron: str, fragment: str) -> None:
    with pytest.raises(TaskRegistrationError) as info:
        declare(cron)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "cron", ["0 0 29 2 *", "0 0 31 * *", "0 0 31 2 mon", "0 0 L 2 *", "*/5 9-17 * * mon-fri"]
)
def test_expressions_that_fire_sometimes_are_accepted(cron: str) -> None:
    declare(cron)
