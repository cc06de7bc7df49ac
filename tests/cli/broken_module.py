"""A module that fails while it is imported (the CLI must report it in one line)."""

raise RuntimeError("broken_module fails on import on purpose")
