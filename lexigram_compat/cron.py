"""Checking a 5-field cron expression: which field is wrong, and whether it can ever fire.

croniter says only "not acceptable" for a bad field and accepts ``0 0 31 2 *``
(February 31st), whose schedule then silently never fires. :func:`cron_problem`
names the field and its range, and refuses a day-of-month that no month of the
month field has (with day-of-week ``*``; with both restricted, cron fires on
either, so another day still matches).
"""

from __future__ import annotations

# From the submodule: croniter 2.0 (the floor) exports CroniterError only there.
from croniter.croniter import CroniterBadDateError, CroniterError, croniter

__all__ = ["FIELDS", "cron_problem"]

FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31, or L for the last day"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 or sun-sat"),
)
# February counts 29 days: "0 0 29 2 *" fires in leap years.
_DAYS_IN_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def cron_problem(cron: str) -> str | None:
    """What is wrong with ``cron``, or None when it is a 5-field expression that can fire.

    Args:
        cron: ``minute hour day-of-month month day-of-week``.

    Returns:
        A message naming the wrong field and its valid range, or saying why the
        expression can never fire; None when it is fine.
    """
    fields = cron.split()
    if len(fields) != len(FIELDS):
        return f"has {len(fields)} fields; use 5: 'minute hour day-of-month month day-of-week'"
    for index, (name, valid) in enumerate(FIELDS):
        alone = ["*"] * len(FIELDS)
        alone[index] = fields[index]
        if not croniter.is_valid(" ".join(alone)):
            return f"the {name} field {fields[index]!r} is not valid ({valid})"
    if not croniter.is_valid(cron):
        return "the fields are valid one by one but not together"
    return _never_fires(cron, fields)


def _never_fires(cron: str, fields: list[str]) -> str | None:
    expanded = croniter.expand(cron)[0]
    days, months, weekdays = expanded[2], expanded[3], expanded[4]
    if weekdays == ["*"] and days != ["*"] and all(isinstance(d, int) for d in days):
        in_months = list(range(1, 13)) if months == ["*"] else [int(m) for m in months]
        if not any(int(d) <= _DAYS_IN_MONTH[m] for d in days for m in in_months):
            return f"can never fire: no month in the month field ({fields[3]}) has day {fields[2]}"
    try:
        croniter(cron).get_next()
    except CroniterBadDateError:
        return "can never fire: no date matches every field"
    except CroniterError as exc:
        return f"is not valid: {exc}"
    return None
