from django_celery_beat.models import CrontabSchedule, PeriodicTask  # LEFT


def install():
    every_night, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="1")
    PeriodicTask.objects.get_or_create(
        crontab=every_night, name="nightly-report", task="scheduler_db.reports.tasks.nightly"
    )
