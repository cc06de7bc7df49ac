"""The corpus and its expected outputs are Celery code to convert, not tests to collect."""

collect_ignore_glob = ["corpus/*", "expected/*"]
