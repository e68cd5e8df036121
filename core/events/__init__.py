"""Completion events: CloudEvents built from the fact log, published to the configured sinks."""
