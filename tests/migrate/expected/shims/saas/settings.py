from lexigram_compat.celery.schedules import crontab

CRM_QUEUE = "crm"
CELERY_BROKER_URL = "redis://localhost:6379/8"
CELERY_BEAT_SCHEDULE = {
    "score-leads": {"task": "saas.crm.tasks.score_lead", "schedule": crontab(minute="*/30"), "args": (0,)},
    "lti-sync": {"task": "saas.lms.tasks.sync_lti_grades", "schedule": crontab(minute=0), "args": (1,)},
    "no-shows": {"task": "saas.clinic.tasks.cancel_no_shows", "schedule": crontab(hour=20, minute=0), "args": ("today",)},
    "forum-reputation": {"task": "saas.forum.tasks.recount_reputation", "schedule": 3600, "args": (0,)},
}
