"""`make bench`: timing and footprint figures. Goals are printed beside each figure, never asserted in tests."""
