"""Huey tasks for routing."""
