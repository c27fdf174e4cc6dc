"""Benchmarks of the kit: each module is runnable as `python -m benchmarks.<name>`."""
