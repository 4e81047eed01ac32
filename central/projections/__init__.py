"""Catch-up projections: checkpointed subscribers to the event store, and their rebuild."""
