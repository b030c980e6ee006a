"""Huey tasks for abandonment."""
