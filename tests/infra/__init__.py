"""Tests of the deployment files: Dockerfile, SAM template, image handlers."""
