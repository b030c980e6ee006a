"""Supervisor reports: the figures of METRICS.md (metrics, series), the live floor, and their doors."""
