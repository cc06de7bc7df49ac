"""Celery-style task modules run unchanged with only ``from celery import ...`` swapped
for ``from lexigram_compat.celery import ...``, and the shim's own tests."""
