"""Benchmark subjects, one module per engine family (registered in ``benchmarks.harness.SUBJECTS``)."""
