"""Every error class has a code of its own: logs, dead letters and the CLI's JSON name a
failure by its code, so two classes sharing one would make them indistinguishable."""

from __future__ import annotations

import inspect

from lexigram_compat import errors


def test_no_two_error_classes_share_a_code() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, errors.TaskQueueError) and "code" in vars(value)
    ]
    assert len(classes) > 10
    owners: dict[str, list[str]] = {}
    for cls in classes:
        owners.setdefault(cls.code, []).append(cls.__name__)
    shared = {code: names for code, names in owners.items() if len(names) > 1}
    assert shared == {}
