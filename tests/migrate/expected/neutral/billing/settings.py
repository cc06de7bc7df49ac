INSTALLED_APPS = ["billing.invoices", "billing.payments"]
CELERY_BROKER_URL = "amqp://guest@localhost//"
# Tests run tasks in process.
CELERY_TASK_ALWAYS_EAGER = True  # LEFT
CELERY_TASK_EAGER_PROPAGATES = True
