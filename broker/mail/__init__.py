"""Member e-mail: the outbox, its exactly-once sender over SMTP, and the Outbox page."""
