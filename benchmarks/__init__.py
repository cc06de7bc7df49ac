"""Throughput and latency benchmarks: the facade beside raw engines, in one run.

Run ``python -m benchmarks.run --help``; see ``benchmarks/README.md``.
"""
