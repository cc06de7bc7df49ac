"""A Celery project's task modules as real codebases write them, unannotated, with only
``from celery import ...`` swapped for ``from lexigram_compat.celery import ...``."""
