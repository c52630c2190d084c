"""Accounts: coordinators and admins, logging in, and the limit on password guessing."""
