"""Seed import path ``lexigram.contracts.infra``."""
