"""Scheduled jobs (issue #17): schedules, actions, the tick and the runs; docs/automation.md."""
