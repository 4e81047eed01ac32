"""Thin entrypoints: CLI and REST API. They parse input, call the message bus or queries, format output."""
