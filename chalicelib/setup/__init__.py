"""The first-run setup wizard (issue #17): what a fresh install still needs, and its checks."""
