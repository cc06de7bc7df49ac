"""Call sites inside a task: ``.delay`` in a loop, ``apply_async(kwargs=, headers=,
countdown=)``, a signature, a task chosen at run time."""

from .celery_app import app
from .tasks_basic import add, mul


@app.task
def fan_out(n: int) -> list[str]:
    ids = [add.delay(i, i).id for i in range(n)]
    ids.append(mul.apply_async(kwargs={"x": 3, "y": 4}, headers={"origin": "fan_out"}, countdown=0.05).id)
    ids.append(add.s(1).delay(2).id)
    chosen = {"add": add, "mul": mul}["mul"]
    ids.append(chosen.apply_async((5, 6)).id)
    return ids
