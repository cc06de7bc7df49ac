"""The native worker runtime (memory and PostgreSQL engines) and the
engine-neutral execution of one attempt, shared by every engine's worker."""
