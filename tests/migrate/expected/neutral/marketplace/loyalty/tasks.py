from lexigram_compat import JobContext, RetryPolicy, scheduled, task


@scheduled(cron="0 0 1 * *", name="expire-points")
@task(retry=RetryPolicy(max_attempts=1))
def expire_points():
    return 0


@task(retry=RetryPolicy(max_attempts=1))
def award_points(user_id, points, reason="purchase", *, ctx: JobContext):
    if points < 0:
        raise ValueError(points)
    return {"user": user_id, "points": points, "reason": reason, "job": ctx.job_id}


@task(priority=2, retry=RetryPolicy(max_attempts=1))
def recompute_tier(user_id):
    return user_id
