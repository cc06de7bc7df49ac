from celery import shared_task # LEFT


@shared_task
def merge_me(x):
<<<<<<< HEAD
    return x + 1
=======
    return x + 2
>>>>>>> feature
