from django.contrib import admin

from newsletter.subscribers import tasks
from lexigram_compat.celery import current_app


@admin.action(description="Re-send the welcome email")
def resend_welcome(modeladmin, request, queryset):
    for subscriber in queryset:
        current_app().queue_handle().enqueue_sync(tasks.send_welcome(subscriber.id), delay=subscriber.id % 60)
