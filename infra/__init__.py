"""Deployment tooling: dependency locks, offline template checks, and `make deploy`."""
