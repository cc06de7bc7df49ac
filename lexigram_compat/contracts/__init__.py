"""Seed import path ``lexigram.contracts`` → ``lexigram_compat.contracts``."""
