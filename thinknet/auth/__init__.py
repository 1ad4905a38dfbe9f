"""Signing in and out, and resetting a forgotten password."""
