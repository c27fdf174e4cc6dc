"""The energy challenge's benchmarks (``make bench-energy``)."""
