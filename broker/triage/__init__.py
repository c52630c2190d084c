"""Triage: the coordinator's queue of matched notices, and the notice page with its actions."""
