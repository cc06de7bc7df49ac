from lexigram_compat.celery.schedules import crontab

CRM_QUEUE = "crm"
CELERY_BROKER_URL = "redis://localhost:6379/8"
CELERY_BEAT_SCHEDULE = {
    
}
