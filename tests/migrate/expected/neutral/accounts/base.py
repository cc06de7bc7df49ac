import celery  # LEFT


class AuditedTask(celery.Task):
    def before_start(self, task_id, args, kwargs):
        print("audit", self.name, task_id)
