from celery import shared_task


@shared_task
def expire_points():
    return 0


@shared_task(bind=True, max_retries=3, default_retry_delay=60)
def award_points(self, user_id, points, reason="purchase"):
    if points < 0:
        raise ValueError(points)
    return {"user": user_id, "points": points, "reason": reason, "job": self.request.id}


@shared_task(priority=2)
def recompute_tier(user_id):
    return user_id
