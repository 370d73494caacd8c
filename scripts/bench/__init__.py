"""Benchmarks (`make bench`, `make bench-e2e`): figures printed, nothing asserted."""
