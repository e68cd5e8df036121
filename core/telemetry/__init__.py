"""Logs, metrics and traces: one setup for every entry point, Powertools on Lambda."""
