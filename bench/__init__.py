"""Benchmarks that print tables: `make bench` (python -m bench)."""
