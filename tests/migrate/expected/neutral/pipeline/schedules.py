from datetime import datetime

from celery.schedules import schedule  # LEFT


class BusinessHours(schedule):
    """Fire every run_every seconds, but only during office hours."""

    def __init__(self, start, end, run_every=600):
        super().__init__(run_every=run_every)
        self.start, self.end = start, end

    def is_due(self, last_run_at):
        if not self.start <= datetime.now().hour < self.end:
            return False, 600
        return super().is_due(last_run_at)
