"""Benchmark subjects, one module per engine family (each lists its own in ``SUBJECTS``)."""
