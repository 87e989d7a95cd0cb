"""Read routing tables printed by ``ip route``, ``ip -json route``, ``netstat -rn`` and ``route -n``.

* ``ip route`` text (iproute2, every era from the 2.6/3.x double-space layout to 6.x): route
  types (``local``, ``broadcast``, ``unreachable``, ``blackhole``, ``prohibit``, ``throw`` ...),
  ``table``, ``proto``, ``scope``, ``src``, ``metric``, flags (``dead``, ``onlink``, ``linkdown``
  ...), multipath ``nexthop via ... dev ... weight N`` continuation lines, ``nhid``, ``via inet6
  ADDR``, ``pref``, ``expires Nsec``, route metrics (``mtu [lock] N`` ...), ``ip route get``
  results with ``from``, ``uid`` and the ``cache`` line, ``ip -o`` one-line output, and ``ip -d``
  over nexthop objects: the ``nh_info id 103 group 101/102 type resilient ...`` line (iproute2
  5.16+) and, with ``-s``, the group's ``stats:`` lines (iproute2 6.7+), both in ``extra["nh_info"]``.
* ``ip -json route`` (iproute2 4.17+): keys renamed to the text names (``protocol`` -> ``proto``,
  ``prefsrc`` -> ``src``, ``expires`` -> ``expires_sec``, ``via`` -> ``gateway`` +
  ``gateway_family``, ``metrics`` flattened), so text and JSON of one table give equal dicts.
* ``netstat -rn`` / ``route -n`` / ``route -ne[e]`` / ``route -6 -n`` / ``netstat -rn -6``
  (net-tools 1.60-2.x, busybox): columns found from the header; destinations normalised to CIDR
  (``0.0.0.0`` + genmask ``0.0.0.0`` and ``::/0`` become ``default``); ``flags`` stays the
  net-tools flag string (``UG``, ``!n`` ...); a ``!`` (reject) flag gives type ``reject``.

Destinations from iproute2 are kept as printed (host routes have no ``/32``), because that is
what ``ip route`` itself accepts and prints.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from .errors import ParseError

__all__ = ["Route", "Nexthop", "parse_routes", "TOOLS"]

TOOLS = ("ip-route", "ip-route-json", "netstat", "route")


# --------------------------------------------------------------------------- data


@dataclass
class Nexthop:
    """One path of a multipath route (``nexthop via GW dev DEV weight N [flags]``).

    ``gateway`` (str | None), ``dev`` (str | None), ``weight`` (int | None), ``flags`` (list of
    str, e.g. ``["dead", "linkdown"]``), ``extra`` (dict: ``gateway_family``, ``realms``,
    ``encap`` ...; flattened by :meth:`to_dict`).
    """

    gateway: str | None = None
    dev: str | None = None
    weight: int | None = None
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"gateway", "dev", "weight", "flags", **extra}``."""
        return {"gateway": self.gateway, "dev": self.dev, "weight": self.weight,
                "flags": list(self.flags), **self.extra}


@dataclass
class Route:
    """One route.

    ``dst`` (str: ``"default"``, a CIDR prefix, or for iproute2 host routes the bare address as
    printed), ``gateway``, ``dev``, ``proto``, ``scope``, ``src``, ``table`` (str | None, only when
    printed), ``metric`` (int | None), ``type`` (str, ``"unicast"`` unless printed otherwise;
    ``"reject"`` for net-tools ``!`` routes), ``flags`` (list of str for iproute2; the flag string,
    e.g. ``"UG"``, for net-tools), ``nexthops`` (None or list of :class:`Nexthop`), ``extra`` (dict
    of everything else: ``pref``, ``expires_sec`` (s), ``nhid``, ``uid``, ``from``, ``cache`` (list
    of cache flags, or None for an ``ip route get`` answer without a cache line),
    ``gateway_family``, route metrics such as ``mtu`` and ``locked``; for net-tools ``genmask``,
    ``ref``, ``use``, ``mss``, ``window``, ``irtt``, ``dst_raw``, ``gateway_raw``).
    """

    dst: str
    gateway: str | None = None
    dev: str | None = None
    proto: str | None = None
    scope: str | None = None
    src: str | None = None
    metric: int | None = None
    table: str | None = None
    type: str = "unicast"
    flags: Union[list[str], str] = field(default_factory=list)
    nexthops: list[Nexthop] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The fields above as plain JSON-able values, with ``extra`` flattened in."""
        return {
            "dst": self.dst, "gateway": self.gateway, "dev": self.dev, "proto": self.proto,
            "scope": self.scope, "src": self.src, "metric": self.metric, "table": self.table,
            "type": self.type,
            "flags": self.flags if isinstance(self.flags, str) else list(self.flags),
            "nexthops": None if self.nexthops is None else [nh.to_dict() for nh in self.nexthops],
            **self.extra,
        }


# --------------------------------------------------------------------------- ip route (text)

ROUTE_TYPES = frozenset({"unicast", "local", "broadcast", "multicast", "anycast", "unreachable",
                         "blackhole", "prohibit", "throw", "nat", "xresolve", "unspec"})
ROUTE_FLAGS = frozenset({"dead", "onlink", "pervasive", "offload", "notify", "linkdown",
                         "unresolved", "trap", "rt_offload", "rt_trap", "rt_offload_failed"})
ROUTE_METRICS = frozenset({"mtu", "window", "rtt", "rttvar", "ssthresh", "cwnd", "advmss",
                           "reordering", "hoplimit", "initcwnd", "features", "rto_min",
                           "initrwnd", "quickack", "congctl", "fastopen_no_cookie"})
ADDRESS_FAMILIES = frozenset({"inet", "inet6", "mpls", "link", "bridge", "ipx", "dnet"})

_DST_RE = re.compile(r"^(?:default|[0-9A-Fa-f:.]+(?:%[\w.-]+)?(?:/\d+)?)$")


def _seconds(text: str) -> int:
    m = re.fullmatch(r"(-?\d+)sec", text)
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 300sec")
    return int(m[1])


def _metric_value(text: str) -> int | str:
    return int(text) if text.isdigit() else text


# keyword -> (attribute or extra key, converter) for keywords followed by one value
_VALUE_KEYWORDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "dev": ("dev", str), "proto": ("proto", str), "scope": ("scope", str), "src": ("src", str),
    "metric": ("metric", int), "table": ("table", str), "weight": ("weight", int),
    "from": ("from", str), "tos": ("tos", str), "dsfield": ("tos", str), "nhid": ("nhid", int),
    "pref": ("pref", str), "uid": ("uid", int), "iif": ("iif", str), "oif": ("oif", str),
    "mark": ("mark", lambda v: int(v, 0)), "realm": ("realm", str), "realms": ("realms", str),
    "error": ("error", int), "users": ("users", int), "used": ("used", int),
    "age": ("age_sec", _seconds), "ipid": ("ipid", str), "ts": ("ts", str),
    "tsage": ("tsage_sec", _seconds), "expires": ("expires_sec", _seconds),
    "ttl-propagate": ("ttl_propagate", str),
}
# tokens that end an ``encap ...`` description
_ENCAP_END = frozenset({"via", "dev", "table", "proto", "scope", "metric", "nhid", "pref",
                        "expires", "uid", "weight"}) | ROUTE_FLAGS


def _assign(obj: Route | Nexthop, name: str, value: Any) -> None:
    """Set a dataclass attribute when the object has one, else ``extra[name]``."""
    if name != "extra" and name in obj.__dataclass_fields__:
        setattr(obj, name, value)
    else:
        obj.extra[name] = value


class _AttrReader:
    """Reads ``keyword value`` tokens of one ``ip route`` line into a Route or Nexthop.

    Each keyword has a handler; a token that is no known keyword raises ParseError (the
    output is then from an iproute2 this parser does not know, and guessing would mislead).
    """

    def __init__(self, tokens: list[str], obj: Route | Nexthop, fail: Callable[[str], None]):
        self.tokens, self.pos, self.obj, self.fail = tokens, 0, obj, fail

    def take(self, what: str) -> str:
        if self.pos >= len(self.tokens):
            self.fail(f"{what!r} without a value")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def read(self) -> None:
        while self.pos < len(self.tokens):
            word = self.take("")
            if word in _VALUE_KEYWORDS:
                name, convert = _VALUE_KEYWORDS[word]
                raw = self.take(word)
                try:
                    value = convert(raw)
                except ValueError:
                    self.fail(f"bad value {raw!r} for {word!r}")
                _assign(self.obj, name, value)
            elif word in ROUTE_FLAGS:
                self.obj.flags.append(word)
            elif word in ROUTE_METRICS:
                self.metric(word)
            elif word in self.SPECIAL:
                self.SPECIAL[word](self)
            else:
                self.fail(f"unknown keyword {word!r} in ip route output")

    def metric(self, name: str, locked: bool = False) -> None:
        value = self.take(name)
        if value == "lock":
            locked, value = True, self.take(name)
        if locked:
            self.obj.extra.setdefault("locked", []).append(name)
        self.obj.extra[name] = _metric_value(value)

    def via(self) -> None:
        value = self.take("via")
        if value in ADDRESS_FAMILIES:
            self.obj.extra["gateway_family"] = value
            value = self.take("via " + value)
        self.obj.gateway = value

    def lock(self) -> None:
        name = self.take("lock")
        if name not in ROUTE_METRICS:
            self.fail(f"'lock' before {name!r}, which is no route metric")
        self.metric(name, locked=True)

    def encap(self) -> None:
        words = [self.take("encap")]
        while self.pos < len(self.tokens) and self.tokens[self.pos] not in _ENCAP_END:
            words.append(self.take("encap"))
        self.obj.extra["encap"] = " ".join(words)

    def as_to(self) -> None:
        if self.take("as") != "to":
            self.fail("'as' not followed by 'to'")
        self.obj.extra["as_to"] = self.take("as to")

    SPECIAL: dict[str, Callable[["_AttrReader"], None]] = {
        "via": via, "lock": lock, "encap": encap, "as": as_to,
    }


def _cache_flags(tokens: list[str]) -> tuple[list[str], list[str]]:
    """``["<local,brd>", "expires", "5sec"]`` -> ``(["local", "brd"], ["expires", "5sec"])``."""
    if tokens and tokens[0].startswith("<") and tokens[0].endswith(">"):
        return [f for f in tokens[0][1:-1].split(",") if f], tokens[1:]
    return [], tokens


class _IpRouteTextParser:
    """``ip route`` text: one route per line, with indented ``nexthop``/``cache`` continuations."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.line_no, self.line = 0, ""

    def fail(self, reason: str) -> None:
        raise ParseError(reason, self.line_no, self.line)

    def feed(self, line_no: int, line: str) -> None:
        self.line_no, self.line = line_no, line
        # ``ip -o`` joins continuation lines with a lone backslash
        segments = re.split(r"\s\\(?=\s|$)", line.rstrip())
        head = segments[0]
        if head.strip():
            if head[0] in " \t":
                self.continuation(head.split())
            else:
                self.route_line(head.split())
        for segment in segments[1:]:
            if segment.strip():
                self.continuation(segment.split())

    def route_line(self, tokens: list[str]) -> None:
        route = Route(dst="")
        if tokens[0] == "Deleted":
            route.extra["deleted"] = True
            tokens = tokens[1:]
        if tokens and tokens[0] in ROUTE_TYPES:
            route.type, tokens = tokens[0], tokens[1:]
        if not tokens or not _DST_RE.match(tokens[0]):
            self.fail("line does not start with a route destination")
        route.dst = tokens[0]
        _AttrReader(tokens[1:], route, self.fail).read()
        self.routes.append(route)

    def continuation(self, tokens: list[str]) -> None:
        if not self.routes:
            self.fail("continuation line before any route")
        route = self.routes[-1]
        if tokens[0] == "nexthop":
            nexthop = Nexthop()
            _AttrReader(tokens[1:], nexthop, self.fail).read()
            route.nexthops = (route.nexthops or []) + [nexthop]
        elif tokens[0] == "cache":
            flags, rest = _cache_flags(tokens[1:])
            route.extra["cache"] = flags
            _AttrReader(rest, route, self.fail).read()
        elif tokens[0] == "nh_info":
            route.extra["nh_info"] = _nh_info(tokens[1:], self.fail)
        elif tokens == ["stats:"] and "nh_info" in route.extra:
            route.extra["nh_info"]["group_stats"] = []
        elif tokens[0] == "id" and "group_stats" in route.extra.get("nh_info", {}):
            route.extra["nh_info"]["group_stats"].append(_group_stats(tokens, self.fail))
        else:
            self.fail(f"unknown continuation line starting with {tokens[0]!r}")

    def finish(self) -> list[Route]:
        for route in self.routes:
            _mark_route_get(route)
        return self.routes


# ``nh_info`` (``ip -d route`` over nexthop objects, iproute2 5.16+): the nexthop object as
# ``ip nexthop`` prints it (iproute2 ip/ipnexthop.c __print_nexthop_entry).
_NH_VALUES: dict[str, Callable[[str], Any]] = {"id": int, "type": str, "dev": str, "scope": str, "proto": str}
_NH_RESILIENT = frozenset({"buckets", "idle_timer", "unbalanced_timer", "unbalanced_time"})


def _seconds_value(text: str) -> int | float:
    """A resilient group timer as printed (``%g`` seconds): ``120`` -> 120, ``0.5`` -> 0.5."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _nh_info(tokens: list[str], fail: Callable[[str], None]) -> dict[str, Any]:
    """``id 103 group 101/102 type resilient buckets 8 ... scope global proto unspec`` -> a dict
    with the keys of ``ip -j`` (``protocol`` read as ``proto``; ``blackhole``/``fdb`` as True)."""
    info: dict[str, Any] = {}
    flags: list[str] = []
    words = iter(tokens)

    def value(word: str, convert: Callable[[str], Any] = str) -> Any:
        got = next(words, None)
        if got is None:
            fail(f"nh_info: {word!r} without a value")
        try:
            return convert(got)
        except ValueError:
            fail(f"bad value {got!r} after {word!r} in nh_info")

    def members(text: str) -> list[dict[str, int]]:
        out = []
        for member in text.split("/"):
            nh_id, _, weight = member.partition(",")
            out.append({"id": int(nh_id), **({"weight": int(weight)} if weight else {})})
        return out

    for word in words:
        if word in _NH_VALUES:
            info[word] = value(word, _NH_VALUES[word])
        elif word == "group":
            info["group"] = value(word, members)
        elif word in _NH_RESILIENT:
            info.setdefault("resilient_args", {})[word] = value(word, _seconds_value)
        elif word == "via":
            gateway = value(word)
            if gateway in ADDRESS_FAMILIES:
                info["gateway_family"], gateway = gateway, value("via " + gateway)
            info["gateway"] = gateway
        elif word in ("blackhole", "fdb"):
            info[word] = True
        elif word == "Deleted":
            info["deleted"] = True
        elif word == "hw_stats":
            info["hw_stats"] = {"enabled": value(word) == "on"}
        elif word == "used" and "hw_stats" in info:
            info["hw_stats"]["used"] = value(word) == "on"
        elif word in ROUTE_FLAGS:
            flags.append(word)
        else:
            fail(f"unknown keyword {word!r} in nh_info")
    info["flags"] = flags
    return info


def _group_stats(tokens: list[str], fail: Callable[[str], None]) -> dict[str, int]:
    """``id 101 packets 1 [packets_hw 0]`` (``ip -s -d route``, iproute2 6.7+) -> ``{"id": 101, "packets": 1}``."""
    if len(tokens) % 2 or any(key not in ("id", "packets", "packets_hw") for key in tokens[::2]):
        fail("unrecognised nexthop group statistics")
    try:
        return {key: int(number) for key, number in zip(tokens[::2], tokens[1::2])}
    except ValueError:
        fail("unrecognised nexthop group statistics")
        raise


def _json_nh_info(item: dict[str, Any]) -> dict[str, Any]:
    """``ip -j`` nh_info with the text reading's keys: ``protocol`` -> ``proto``, null markers -> True."""
    info = {("proto" if key == "protocol" else key): (True if key in ("blackhole", "fdb") and value is None else value)
            for key, value in item.items()}
    info.setdefault("flags", [])
    return info


def _mark_route_get(route: Route) -> None:
    """An ``ip route get`` answer (it has ``uid`` or a cache line) always carries ``cache``."""
    if "uid" in route.extra or "cache" in route.extra:
        route.extra.setdefault("cache", None)


def _parse_ip_route(text: str) -> list[Route]:
    parser = _IpRouteTextParser()
    for line_no, line in enumerate(text.split("\n"), start=1):
        parser.feed(line_no, line.replace("\r", ""))
    return parser.finish()


# --------------------------------------------------------------------------- ip -json route

_JSON_RENAMES = {"protocol": "proto", "prefsrc": "src", "expires": "expires_sec"}


def _json_attrs(obj: Route | Nexthop, item: dict[str, Any]) -> None:
    """Copy one JSON route/nexthop object's keys onto ``obj`` using the text names."""
    for key, value in item.items():
        if key in ("dst", "nexthops"):
            continue
        if key == "via" and isinstance(value, dict):
            obj.gateway = value.get("host")
            if value.get("family") is not None:
                obj.extra["gateway_family"] = value["family"]
        elif key == "metrics" and isinstance(value, list) and all(isinstance(m, dict) for m in value):
            for metric in value:
                obj.extra.update(metric)
        elif key == "table" and value is not None:
            _assign(obj, "table", str(value))
        elif key == "flags":
            obj.flags = list(value)
        elif key == "nh_info" and isinstance(value, dict):
            obj.extra["nh_info"] = _json_nh_info(value)
        else:
            _assign(obj, _JSON_RENAMES.get(key, key), value)


def _parse_ip_route_json(text: str) -> list[Route]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.split("\n")
        line = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else ""
        raise ParseError(f"invalid JSON ({exc.msg}, column {exc.colno})", exc.lineno, line) from None
    if not isinstance(data, list):
        raise ParseError("ip -json route output is not a JSON array", None, text.strip()[:200])
    routes = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("dst"), str):
            raise ParseError(f"JSON element #{index} is not a route object with a 'dst'", None,
                             json.dumps(item))
        route = Route(dst=item["dst"])
        _json_attrs(route, item)
        if item.get("nexthops") is not None:
            route.nexthops = []
            for nh_item in item["nexthops"]:
                if not isinstance(nh_item, dict):
                    raise ParseError(f"nexthop of JSON element #{index} is not an object", None,
                                     json.dumps(nh_item))
                nexthop = Nexthop()
                _json_attrs(nexthop, nh_item)
                route.nexthops.append(nexthop)
        _mark_route_get(route)
        routes.append(route)
    return routes


# --------------------------------------------------------------------------- netstat / route

# net-tools/busybox column header -> key; "Next Hop" is joined to "NextHop" before splitting
_NETSTAT_COLUMNS = {"Destination": "dst_raw", "Gateway": "gateway_raw", "NextHop": "gateway_raw",
                    "Genmask": "genmask", "Flags": "flags", "Flag": "flags", "Metric": "metric",
                    "Met": "metric", "Ref": "ref", "Use": "use", "Iface": "dev", "If": "dev",
                    "MSS": "mss", "Window": "window", "irtt": "irtt"}
_NETSTAT_INT_KEYS = frozenset({"metric", "ref", "use", "mss", "window", "irtt"})
_NETSTAT_EXTRA_KEYS = ("genmask", "ref", "use", "mss", "window", "irtt", "dst_raw", "gateway_raw")
_NO_GATEWAY = frozenset({"0.0.0.0", "::", "*", "-"})
_NETSTAT_TITLE = re.compile(r"^Kernel IP(?:v6)? routing table\s*$")


def _netstat_dst(raw: str, genmask: str | None) -> str:
    """``("10.0.0.0", "255.0.0.0")`` -> ``"10.0.0.0/8"``; ``0.0.0.0/0`` and ``::/0`` -> ``"default"``."""
    if raw == "default":
        return "default"
    if genmask is not None:  # IPv4 table: address + netmask
        prefixlen = ipaddress.IPv4Network(f"0.0.0.0/{genmask}").prefixlen
        try:
            ipaddress.IPv4Address(raw)
        except ValueError:
            return raw  # a name printed without -n
        return "default" if prefixlen == 0 and raw == "0.0.0.0" else f"{raw}/{prefixlen}"
    try:
        network = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        return raw
    return "default" if network.prefixlen == 0 and raw.split("/")[0] == "::" else raw


def _parse_netstat(text: str) -> list[Route]:
    columns: list[str] | None = None
    routes: list[Route] = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.replace("\r", "")
        if not line.strip() or _NETSTAT_TITLE.match(line):
            continue
        words = line.replace("Next Hop", "NextHop").split()
        if words[0] == "Destination":
            unknown = [w for w in words if w not in _NETSTAT_COLUMNS]
            if unknown:
                raise ParseError(f"unknown routing-table column {unknown[0]!r}", line_no, line)
            columns = [_NETSTAT_COLUMNS[w] for w in words]
            continue
        if columns is None:
            raise ParseError("routing-table row before the column header", line_no, line)
        if len(words) != len(columns):
            raise ParseError(f"expected {len(columns)} columns, found {len(words)}", line_no, line)
        values: dict[str, Any] = dict.fromkeys(_NETSTAT_EXTRA_KEYS)
        values.update(metric=None, flags="", dev=None)
        for key, word in zip(columns, words):
            if key in _NETSTAT_INT_KEYS and word == "-":
                values[key] = None  # net-tools prints '-' for Ref of reject routes
            elif key in _NETSTAT_INT_KEYS:
                try:
                    values[key] = int(word)
                except ValueError:
                    raise ParseError(f"{word!r} is not a number in column {key!r}", line_no, line) from None
            else:
                values[key] = word
        try:
            dst = _netstat_dst(values["dst_raw"], values["genmask"])
        except ValueError:
            raise ParseError(f"bad genmask {values['genmask']!r}", line_no, line) from None
        routes.append(Route(
            dst=dst,
            gateway=None if values["gateway_raw"] in _NO_GATEWAY else values["gateway_raw"],
            dev=None if values["dev"] in (None, "-", "*") else values["dev"],
            metric=values["metric"],
            type="reject" if "!" in values["flags"] else "unicast",
            flags=values["flags"],
            extra={key: values[key] for key in _NETSTAT_EXTRA_KEYS},
        ))
    return routes


# --------------------------------------------------------------------------- entry point

_PARSERS: dict[str, Callable[[str], list[Route]]] = {
    "ip-route": _parse_ip_route,
    "ip-route-json": _parse_ip_route_json,
    "netstat": _parse_netstat,
    "route": _parse_netstat,
}


def _detect_tool(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return "ip-route-json"
    first = stripped.split("\n", 1)[0].strip()
    if _NETSTAT_TITLE.match(first) or first.startswith("Destination "):
        return "netstat"
    return "ip-route"


def parse_routes(text: str, *, tool: str | None = None) -> list[Route]:
    """Parse a routing table into a list of :class:`Route`, in output order (duplicates kept).

    :param text: the output of ``ip route [show|get]`` (iproute2 text), ``ip -json route``
        (iproute2 JSON), ``netstat -rn`` or ``route -n`` (net-tools or busybox, IPv4 or IPv6).
        Empty text is an empty table.
    :param tool: ``"ip-route"``, ``"ip-route-json"``, ``"netstat"``, ``"route"`` or None to
        detect it (JSON starts with ``[``; net-tools tables with ``Kernel IP`` or ``Destination``).
    :returns: routes; ``metric`` and other numbers as int, ``expires_sec`` in seconds.
    :raises ParseError: when a line (or JSON element) cannot be read; the message quotes it and
        gives its line number.
    :raises ValueError: for an unknown ``tool``.
    """
    if tool is None:
        if not text.strip():
            return []
        tool = _detect_tool(text)
    if tool not in _PARSERS:
        raise ValueError(f"unknown tool {tool!r}; expected one of {', '.join(TOOLS)} or None")
    if not text.strip():
        return []
    return _PARSERS[tool](text)
