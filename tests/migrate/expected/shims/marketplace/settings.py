from lexigram_compat.celery.schedules import crontab

INSTALLED_APPS = [f"marketplace.{name}" for name in ("helpdesk", "inventory", "shipping", "reviews", "loyalty")]
CELERY_BROKER_URL = "redis://localhost:6379/7"
HELPDESK_QUEUE = "helpdesk"

CELERY_BEAT_SCHEDULE = {
    "close-stale-tickets": {"task": "marketplace.helpdesk.tasks.close_stale_tickets", "schedule": crontab(minute=0, hour="*/2")},
    "restock-report": {"task": "marketplace.inventory.tasks.restock_report", "schedule": crontab(hour=7, minute=0), "args": (10,)},
    "expire-points": {"task": "marketplace.loyalty.tasks.expire_points", "schedule": crontab(0, 0, day_of_month="1")},
    "track-shipments": {"task": "marketplace.shipping.tasks.poll_carriers", "schedule": 300},
    "moderation-digest": {"task": "marketplace.reviews.tasks.moderation_digest", "schedule": crontab(hour=9, minute=0, day_of_week="1-5"), "kwargs": {"channel": "#mods"}},
}
