"""Deployment tooling: dependency locks for the Lambda images and offline template checks."""
