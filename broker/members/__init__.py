"""Members: capability profiles, the CSV format, the directory and each member's history."""
