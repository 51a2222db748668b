"""Haul's domain: plain Python with no I/O, driven directly by the unit tests."""
