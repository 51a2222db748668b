"""Notifications (issue #17): targets, events, signed webhooks and Apprise deliveries; docs/automation.md."""
