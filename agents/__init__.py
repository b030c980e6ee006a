"""Agents: their profiles, teams (queues), canned replies and the console."""
