"""Central: command handlers, event store, projections and the REST API, one bounded context a folder."""
