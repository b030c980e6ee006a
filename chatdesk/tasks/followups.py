"""Huey tasks for followups."""
