from django.contrib import admin

from newsletter.subscribers import tasks


@admin.action(description="Re-send the welcome email")
def resend_welcome(modeladmin, request, queryset):
    for subscriber in queryset:
        tasks.send_welcome.apply_async(args=(subscriber.id,), countdown=subscriber.id % 60)
