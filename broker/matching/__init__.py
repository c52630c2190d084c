"""Matching in the broker: stored rows in, `matchers` dataclasses through, matches
stored; the warm engine, word statistics, and "Test this profile"."""
