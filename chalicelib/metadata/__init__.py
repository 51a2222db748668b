"""Media metadata (issue #18)."""
