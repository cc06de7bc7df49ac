"""A corpus of Celery-style task modules run on real Celery and, with only the
import swapped, on ``lexigram_compat.celery`` on every engine (issue 10, must-show 1).
See ``test_corpus.py`` for the design."""
