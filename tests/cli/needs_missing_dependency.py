"""A module whose own import of a dependency fails."""

import lexigram_no_such_dependency  # type: ignore[import-not-found]  # noqa: F401
