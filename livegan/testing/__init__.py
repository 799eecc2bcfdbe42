"""Helpers for tests: fixture writers that need no third-party model code."""
