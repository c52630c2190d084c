"""Consortium bids: forming a bid from a notice (or for an expected re-tender) with the
right partners, inviting members, roles and shares, tasks and deadlines, stages to the
outcome, reminders, a calendar feed, and the members' own pages for their part."""
