"""Notices: storing and merging what the sources publish, cleaning records, recognising
duplicates, notices entered by hand, and the export format."""
