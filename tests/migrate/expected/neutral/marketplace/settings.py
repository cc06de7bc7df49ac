from lexigram_compat.celery.schedules import crontab

INSTALLED_APPS = [f"marketplace.{name}" for name in ("helpdesk", "inventory", "shipping", "reviews", "loyalty")]
CELERY_BROKER_URL = "redis://localhost:6379/7"
HELPDESK_QUEUE = "helpdesk"

CELERY_BEAT_SCHEDULE = {
    
}
