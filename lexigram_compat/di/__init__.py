"""Dependency injection: ``Container``, ``Named`` and resolution at execution."""

from lexigram_compat.di.container import Container, Resolver
from lexigram_compat.di.markers import Inject, Named, inject, named

__all__ = ["Container", "Inject", "Named", "Resolver", "inject", "named"]
