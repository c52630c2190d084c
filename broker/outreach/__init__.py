"""Outreach: what members are told and how they answer. Composing e-mails, signed links,
forwards, alerts, digests, change notices, one-click answers and the members' own pages."""
