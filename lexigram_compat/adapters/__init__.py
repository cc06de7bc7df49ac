"""Engine adapters: one module or package per engine; each translates the contract of
``lexigram_compat.engine_contract`` and ``lexigram_compat.ledger`` to its broker.

Engines are found by name in ``lexigram_compat.engine_registry`` (imported lazily).
"""
