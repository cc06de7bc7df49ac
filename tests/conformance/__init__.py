"""The engine conformance suite (SPEC §3): one set of tests, every engine."""
