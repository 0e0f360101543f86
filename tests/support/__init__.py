"""Shared helpers for the test suites (the local cluster and Prometheus handles live in cluster.py)."""
