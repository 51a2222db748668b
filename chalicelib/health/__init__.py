"""Detailed health (issue #17): every dependency checked, timed and judged."""
