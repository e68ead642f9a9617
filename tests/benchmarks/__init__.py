"""`make bench` (python -m tests.benchmarks): timing and footprint figures. Goals are printed beside each figure, never asserted in tests."""
