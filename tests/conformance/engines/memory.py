"""The memory engine: its worker runs on the test's own event loop."""

from __future__ import annotations

from ..harness import EngineSpec, MemoryHarness

SPECS = [EngineSpec("memory", {"engine": "native", "backend": {"type": "memory"}}, MemoryHarness)]
