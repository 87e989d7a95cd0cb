"""Parsers for the tool output netns-harness judges: ``ping`` and routing tables.

Public API::

    parse_ping(text, *, command=None) -> PingResult      # iputils (all eras), busybox, GNU inetutils
    parse_routes(text, *, tool=None) -> list[Route]      # ip route, ip -json route, netstat -rn, route -n

Result types: :class:`PingResult`, :class:`PingReply`, :class:`PingEvent`, :class:`Route`,
:class:`Nexthop`; each has ``to_dict()`` returning plain JSON-able dicts.  Unreadable text raises
:class:`ParseError` (a ``ValueError``) whose message quotes the offending line and its number.
Pure standard library.
"""

from .errors import ParseError
from .ping import PingEvent, PingReply, PingResult, parse_ping
from .routes import Nexthop, Route, parse_routes

__all__ = [
    "ParseError",
    "PingEvent",
    "PingReply",
    "PingResult",
    "parse_ping",
    "Nexthop",
    "Route",
    "parse_routes",
]
