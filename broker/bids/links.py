"""Signed links for a bid's members: join the bid, say they can't, and their page for it.

Like the members' other links (outreach.links) they need no password, expire after
`mail.link_max_age_days`, and opening one only shows what it will do; a button does it.
They are signed under a salt of their own, so no other signed value passes for one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.clock import utcnow
from broker.outreach.links import Links, LinkTampered, SignedTokens

SALT = "sen-broker.bid-link"
ACTIONS = ("join", "decline", "page")
# Under the bids blueprint: /bids/m/<token>.
PREFIX = "/bids/m"


@dataclass(frozen=True)
class BidLink:
    """What a bid link says: whose it is, for which bid, and what it does."""

    member_id: int
    bid_id: int
    action: str


class BidLinks:
    """Makes and reads bid links, as absolute URLs under the member links' base URL."""

    def __init__(self, links: Links, clock: Callable[[], datetime] = utcnow):
        self.base_url = links.base_url
        self._tokens = SignedTokens(links.secret_key, SALT, links.max_age_days, clock)

    def token(self, member_id: int, bid_id: int, action: str) -> str:
        """A signed token for one member, bid and action."""
        if action not in ACTIONS:
            raise ValueError(f"unknown bid link action {action!r}")
        return self._tokens.dumps([member_id, bid_id, ACTIONS.index(action)])

    def url(self, member_id: int, bid_id: int, action: str) -> str:
        """The absolute URL of a bid link, for e-mails."""
        return f"{self.base_url}{PREFIX}/{self.token(member_id, bid_id, action)}"

    def read(self, token: str) -> BidLink:
        """What a token says; raises LinkTampered or LinkExpired."""
        return self._tokens.open(token, self._link)

    @staticmethod
    def _link(payload: Any) -> BidLink:
        try:
            member_id, bid_id, action = payload
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in payload):
                raise TypeError
            return BidLink(member_id, bid_id, ACTIONS[action])
        except (TypeError, ValueError, IndexError):
            raise LinkTampered("the link does not say what to do") from None
