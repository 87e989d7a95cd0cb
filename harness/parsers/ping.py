"""Read the text output of ``ping`` into a :class:`PingResult`.

Formats understood (all of them line by line, every line must be recognised):

* iputils ``ping``/``ping6`` of every era: the old ``icmp_req=`` replies (s2010xxxx, kept by
  Debian until ~2012), ``icmp_seq=`` replies, IPv6 headers ``PING host(host (addr))``, ``-I``
  sources (``from ADDR [DEV]:``), ``(DUP!)``, ``(truncated)``, ``(BAD CHECKSUM!)``,
  ``(DIFFERENT ADDRESS!)``, ``-D`` timestamps, ``-O`` (``no answer yet for icmp_seq=N``), ``-q``,
  ``-p`` (``PATTERN: 0x..``), ``-R`` record-route lines, ICMP errors
  (``From X icmp_seq=N Destination Host Unreachable``, ``From X: icmp_seq=N Redirect Host(New
  nexthop: Y)``, ``Time to live exceeded``, the IPv6 ``Destination unreachable: ...`` family),
  program errors (``ping: connect: Network is unreachable``, also the old un-prefixed
  ``connect: ...``), warnings, ``^C`` echoes, the statistics block with ``+N duplicates``,
  ``+N corrupted``, ``+N errors``, ``time Nms``, ``pipe N`` and ``ipg/ewma`` (``, pipe N`` on a
  line of its own before 2010), and the SIGQUIT status line; a header with an empty name
  (``PING  (192.0.2.7) ...``, iputils before 20231222 when getaddrinfo gave no canonical name:
  ``target`` is then None, or the command's).
* iputils output in any language it is translated to (s20190324 and later: cs de es fi fr id it
  ja ka kab ko pt_BR ro tr uk zh_CN zh_Hant): a line the English patterns do not know is put back
  into English piece by piece (:mod:`.ping_untranslate`) and read again; decimal commas are read.
* busybox ``ping`` (``seq=N`` replies, ``N packets received, N duplicates``, ``round-trip
  min/avg/max``; no mdev) including its simple ``X is alive!`` mode.
* GNU inetutils ``ping`` (``icmp_seq=`` from 0, ``round-trip min/avg/max/stddev``, ICMP errors as
  ``N bytes from X: Destination Host Unreachable`` with their ``-v`` header dumps).

Units: times are milliseconds (float), loss is a percentage as printed (int when printed without
a fraction, else float).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ParseError
from .ping_untranslate import untranslate

__all__ = ["PingReply", "PingEvent", "PingResult", "parse_ping"]


# --------------------------------------------------------------------------- data


@dataclass
class PingReply:
    """One echo-reply line, e.g. ``64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.05 ms``.

    ``seq`` (int; ``icmp_seq``/``icmp_req``/``seq``), ``ttl`` (int | None; also inetutils'
    ``hlim``), ``time_ms`` (float ms | None when the reply is truncated or the payload too small to
    carry a timestamp), ``dup`` (bool, ``(DUP!)``), ``from_`` (str: the replier as printed, e.g.
    ``"10.0.0.1"`` or ``"example.com (2001:db8::1)"``).  Not part of :meth:`to_dict`:
    ``bytes`` (int), ``truncated``, ``bad_checksum``, ``different_address`` (bool) and
    ``timestamp`` (float seconds from ``ping -D`` | None).
    """

    seq: int | None
    ttl: int | None = None
    time_ms: float | None = None
    dup: bool = False
    from_: str | None = None
    bytes: int | None = None
    truncated: bool = False
    bad_checksum: bool = False
    different_address: bool = False
    timestamp: float | None = None

    @property
    def addr(self) -> str | None:
        """The address part of ``from_`` (``"2001:db8::1"`` for ``"example.com (2001:db8::1)"``)."""
        return _address_of(self.from_)

    def to_dict(self) -> dict[str, Any]:
        """``{"seq", "ttl", "time_ms", "dup", "from"}`` as plain JSON-able values."""
        return {"seq": self.seq, "ttl": self.ttl, "time_ms": self.time_ms, "dup": self.dup,
                "from": self.from_}


@dataclass
class PingEvent:
    """A line that is not an echo reply: an ICMP error, a local error, a warning, ``^C`` ...

    ``type`` is one of ``unreachable`` (field ``code``: net, host, protocol, port, frag_needed,
    filtered, net_unknown, host_prohibited, no_route, address, prohibited, ...), ``redirect``
    (``code`` net/host/tos_net/tos_host, ``new_nexthop``), ``ttl_exceeded``, ``time_exceeded``,
    ``parameter_problem``, ``source_quench``, ``packet_too_big`` (``mtu``), ``icmp`` (other ICMP
    text), ``no_answer`` (``-O``), ``local_error`` (program errors such as ``ping: connect: Network
    is unreachable``), ``interrupted`` (``^C``), ``warning``, ``verbose`` (``-v`` diagnostics),
    ``pattern`` (``-p``), ``wrong_data``, ``different_address``, ``bad_checksum``, ``ip_options``
    (``-R``/``-T``), ``status`` (SIGQUIT line), ``alive`` (busybox simple mode).

    ``detail`` is the message as printed: for ``From X icmp_seq=N MESSAGE`` lines the MESSAGE,
    for other lines the whole line.  ``fields`` holds the rest (``seq`` int, ``from`` str,
    ``code`` str, ``new_nexthop`` str, ``mtu`` int, ...); :meth:`to_dict` flattens them.
    """

    type: str
    detail: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def seq(self) -> int | None:
        return self.fields.get("seq")

    @property
    def from_(self) -> str | None:
        return self.fields.get("from")

    @property
    def code(self) -> str | None:
        return self.fields.get("code")

    def to_dict(self) -> dict[str, Any]:
        """``{"type": ..., **fields, "detail": ...}``."""
        return {"type": self.type, **self.fields, "detail": self.detail}


@dataclass
class PingResult:
    """Everything read from one ping run.

    Summary (None when no statistics block was printed, e.g. the run was cut short or failed
    before sending): ``transmitted``, ``received`` (int; duplicates not counted), ``duplicates``,
    ``errors``, ``corrupted`` (int; 0 when the summary omits them), ``loss_percent`` (int | float %
    as printed), ``time_total_ms`` (int ms; iputils only), ``rtt_min``/``rtt_avg``/``rtt_max``/
    ``rtt_mdev`` (float ms; ``mdev`` is inetutils' ``stddev``, None for busybox), ``pipe`` (int),
    ``ipg_ms``/``ewma_ms`` (float ms; iputils flood/adaptive/``-i 0``).

    Lines: ``replies`` (list of :class:`PingReply`), ``events`` (list of :class:`PingEvent`).

    Header: ``target`` (as given on the command line, or from ``--- X ping statistics ---``, or
    from ``command=``), ``target_addr`` (resolved address), ``source`` (``from X`` in the header,
    else an address given to ``-I`` in ``command=``), ``interface`` (device in the header or a
    name given to ``-I``), ``data_bytes`` (payload size).

    ``summary_present`` (bool); ``interrupted``: True when a ``^C`` was echoed, False when the
    output is complete (a summary was printed, or ping stopped on an error such as
    ``ping: connect: ...``), None when it just ends (cut off, or still running).
    """

    transmitted: int | None = None
    received: int | None = None
    duplicates: int | None = None
    errors: int | None = None
    corrupted: int | None = None
    loss_percent: float | int | None = None
    rtt_min: float | None = None
    rtt_avg: float | None = None
    rtt_max: float | None = None
    rtt_mdev: float | None = None
    time_total_ms: int | None = None
    pipe: int | None = None
    ipg_ms: float | None = None
    ewma_ms: float | None = None
    replies: list[PingReply] = field(default_factory=list)
    events: list[PingEvent] = field(default_factory=list)
    target: str | None = None
    target_addr: str | None = None
    source: str | None = None
    interface: str | None = None
    data_bytes: int | None = None
    interrupted: bool | None = False
    summary_present: bool = False

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-able values; replies and events as lists of dicts."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name in ("replies", "events"):
                value = [item.to_dict() for item in value]
            out[name] = value
        return out


# --------------------------------------------------------------------------- helpers

_NAME_AND_ADDR = re.compile(r"^(?P<name>\S+) \((?P<addr>[^()]+)\)$")


def _address_of(text: str | None) -> str | None:
    """``"host (addr)"`` -> ``"addr"``; anything else unchanged."""
    if text is None:
        return None
    m = _NAME_AND_ADDR.match(text)
    return m["addr"] if m else text


def _number(text: str) -> int | float:
    """``"0"`` -> 0, ``"33.3333"`` (or ``"33,3333"``, a decimal comma) -> 33.3333 (keeps what was printed)."""
    return int(text) if text.isdigit() else float(text.replace(",", "."))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _terminal_text(line: str) -> str:
    """Drop CR and BEL, apply backspaces (flood mode prints ``.\\b \\b``)."""
    line = line.replace("\r", "").replace("\a", "")
    if "\b" not in line:
        return line
    out: list[str] = []
    for ch in line:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


# ICMP error texts (iputils ping.c pr_icmph / ping6_common.c, inetutils) -> (type, fields)
_REDIRECT_CODES = {"Network": "net", "Host": "host", "Type of Service and Network": "tos_net",
                   "Type of Service and Host": "tos_host"}
_V6_UNREACH_CODES = {"No route": "no_route", "Administratively prohibited": "prohibited",
                     "Beyond scope of source address": "beyond_scope",
                     "Address unreachable": "address", "Port unreachable": "port",
                     "Source address failed ingress/egress policy": "policy",
                     "Reject route to destination": "reject_route"}

_ICMP_MESSAGES: list[tuple[re.Pattern[str], str, Callable[[re.Match[str]], dict[str, Any]]]] = [
    (re.compile(r"Destination (?P<what>Net|Host|Protocol|Port) Unreachable$"), "unreachable",
     lambda m: {"code": m["what"].lower()}),
    (re.compile(r"Destination (?P<what>Net|Host) Unreachable for Type of Service$"), "unreachable",
     lambda m: {"code": m["what"].lower() + "_tos"}),
    (re.compile(r"Destination (?P<what>Net|Host) (?P<why>Unknown|Prohibited)$"), "unreachable",
     lambda m: {"code": f"{m['what']}_{m['why']}".lower()}),
    (re.compile(r"Frag(?:mentation)? needed and DF set(?: \(mtu = (?P<mtu>\d+)\))?$"), "unreachable",
     lambda m: {"code": "frag_needed", **({"mtu": int(m["mtu"])} if m["mtu"] else {})}),
    (re.compile(r"Source Route Failed$"), "unreachable", lambda m: {"code": "source_route_failed"}),
    (re.compile(r"Source Host Isolated$"), "unreachable", lambda m: {"code": "host_isolated"}),
    (re.compile(r"Packet filtered$"), "unreachable", lambda m: {"code": "filtered"}),
    (re.compile(r"Precedence (?P<what>Violation|Cutoff)$"), "unreachable",
     lambda m: {"code": "precedence_" + m["what"].lower()}),
    (re.compile(r"Dest(?:ination)? Unreachable, Bad Code: (?P<n>\d+)$"), "unreachable",
     lambda m: {"code": "bad_code", "icmp_code": int(m["n"])}),
    (re.compile(r"Destination unreachable: (?P<why>.+)$"), "unreachable",
     lambda m: {"code": _V6_UNREACH_CODES.get(m["why"], _slug(m["why"]))}),
    (re.compile(r"Redirect (?P<what>Network|Host|Type of Service and Network|Type of Service and Host)"
                r"\s*\(New (?:nexthop|addr): (?P<nh>[^)]+)\)$"), "redirect",
     lambda m: {"code": _REDIRECT_CODES[m["what"]], "new_nexthop": m["nh"]}),
    (re.compile(r"Redirect, Bad Code: (?P<n>\d+)\s*\(New (?:nexthop|addr): (?P<nh>[^)]+)\)$"), "redirect",
     lambda m: {"code": "bad_code", "icmp_code": int(m["n"]), "new_nexthop": m["nh"]}),
    (re.compile(r"Time to live exceeded$|Time exceeded: Hop limit$"), "ttl_exceeded", lambda m: {}),
    (re.compile(r"Frag reassembly time exceeded$|Time exceeded: Defragmentation failure$"),
     "time_exceeded", lambda m: {"code": "reassembly"}),
    (re.compile(r"Time exceeded(?:, Bad Code:|: code) (?P<n>\d+)$"), "time_exceeded",
     lambda m: {"code": "bad_code", "icmp_code": int(m["n"])}),
    (re.compile(r"Parameter problem: (?P<what>.+)$"), "parameter_problem",
     lambda m: {"problem": m["what"]}),
    (re.compile(r"Source Quench$"), "source_quench", lambda m: {}),
    (re.compile(r"Packet too big: mtu=(?P<mtu>\d+)"), "packet_too_big", lambda m: {"mtu": int(m["mtu"])}),
    (re.compile(r"local error: .+$"), "local_error", lambda m: {}),
]


def _classify_icmp(message: str) -> tuple[str, dict[str, Any]]:
    """Map an ICMP error text to ``(event type, fields)``; unknown texts give type ``icmp``."""
    for pattern, kind, make_fields in _ICMP_MESSAGES:
        m = pattern.match(message)
        if m:
            return kind, make_fields(m)
    return "icmp", {}


_REPLY_TAIL = re.compile(
    r"""\s*(?:
          ttl=(?P<ttl>\d+)
        | hlim=(?P<hlim>\d+)
        | time[=<]\s*(?P<time>\d+(?:[.,]\d+)?)\s*ms
        | ident=(?P<ident>\d+)
        | \((?P<note>DUP!|truncated|BAD\ CHECKSUM!|DIFFERENT\ ADDRESS!|same\ route)\)
    )""",
    re.X,
)

_SUMMARY_PIECES: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"\+?(?P<n>\d+) duplicates?$"), "duplicates"),
    (re.compile(r"\+(?P<n>\d+) corrupted$"), "corrupted"),
    (re.compile(r"\+(?P<n>\d+) errors?$"), "errors"),
    (re.compile(r"(?P<n>\d+(?:[.,]\d+)?(?:e[+-]?\d+)?) ?% packet loss$"), "loss_percent"),
    (re.compile(r"time (?P<n>\d+)\s*ms$"), "time_total_ms"),
    (re.compile(r"-- somebody's printing up packets!$"), None),
]

_RTT_TAIL_PIECES: list[tuple[re.Pattern[str], Callable[["PingResult", re.Match[str]], None]]] = [
    (re.compile(r"pipe (?P<n>\d+)$"), lambda r, m: setattr(r, "pipe", int(m["n"]))),
    (re.compile(r"ipg/ewma (?P<ipg>[\d.]+)/(?P<ewma>[\d.]+) ms$"),
     lambda r, m: (setattr(r, "ipg_ms", float(m["ipg"])), setattr(r, "ewma_ms", float(m["ewma"])))),
]

_RTT_NAMES = {"min": "rtt_min", "avg": "rtt_avg", "max": "rtt_max", "mdev": "rtt_mdev",
              "stddev": "rtt_mdev"}

# ping options that take an argument (iputils, busybox, inetutils short options)
_ARG_OPTIONS = set("cefFiIlmMNpQsStTwW")


def _from_command(command: str) -> tuple[str | None, str | None]:
    """``(target, -I value)`` from a ping command line such as ``sudo ping -c 3 -I eth0 host``.

    Parenthesised commentary (``ping host (interrupted with Ctrl-C)``) is ignored; the target is
    the last operand after the ``ping``/``ping6``/``...-ping`` word.
    """
    command = re.sub(r"\([^)]*\)", " ", command)
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    start = next((i for i, w in enumerate(words) if re.search(r"ping[46]?$", w.rsplit("/", 1)[-1])), None)
    if start is None:
        return None, None
    operands: list[str] = []
    iface: str | None = None
    args = iter(words[start + 1:])
    for word in args:
        if word.startswith("-") and len(word) > 1:
            for pos, letter in enumerate(word[1:], start=1):
                if letter in _ARG_OPTIONS:
                    value = word[pos + 1:] or next(args, None)
                    if letter == "I":
                        iface = value
                    break
        else:
            operands.append(word)
    return (operands[-1] if operands else None), iface


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the parser


class _PingParser:
    """Line-by-line reader: each line is matched against ``_LINES`` in order; the first match's
    handler updates the result.  A line nothing matches raises :class:`ParseError`."""

    _TIMESTAMP = re.compile(r"^\[(?P<ts>\d+(?:\.\d+)?)\]\s*")

    _LINES: list[tuple[str, re.Pattern[str]]] = [
        ("header", re.compile(
            r"^PING\s+(?P<target>[^\s(]*)\s*\((?P<addr>[^()]*(?:\([^()]*\))?)\)\s*"
            r"(?:from\s+(?P<source>\S+)(?:\s+(?P<iface>[^\s:]+))?\s*:\s*)?:?\s*"
            r"(?P<size>\d+)(?:\(\d+\))?\s+(?:data\s+)?bytes(?:\s+of\s+data\.?)?(?P<rest>.*)$")),
        ("reply", re.compile(
            r"^(?P<bytes>\d+) bytes from (?P<from>.+?):\s+(?:icmp_[rs]eq|seq)=(?P<seq>\d+)(?P<rest>.*)$")),
        ("icmp_from_seq", re.compile(
            r"^From (?P<from>.+?):?\s+icmp_seq=(?P<seq>\d+)\s+(?P<msg>.+?)\s*$")),
        ("icmp_from", re.compile(r"^From (?P<from>.+?):\s+(?P<msg>.+?)\s*$")),
        ("icmp_bytes_from", re.compile(r"^(?P<bytes>\d+) bytes from (?P<from>.+?):\s+(?P<msg>.+?)\s*$")),
        ("no_answer", re.compile(r"^no answer yet for icmp_seq=(?P<seq>\d+)$")),
        ("no_answer", re.compile(r"^Request timeout for icmp_seq[= ](?P<seq>\d+)$")),
        ("stats_header", re.compile(r"^-{2,} ?(?P<host>.*?) ?ping statistics\s*-{2,}$")),
        ("counts", re.compile(
            r"^(?P<tx>\d+) packets transmitted, (?P<rx>\d+) (?:packets )?received(?P<rest>(?:,.*)?)$")),
        ("rtt", re.compile(
            r"^(?:rtt|round-trip) (?P<names>[a-z]+(?:/[a-z]+)+) = (?P<values>[\d.,]+(?:/[\d.,]+)+) ms"
            r"(?P<rest>.*)$")),
        # "pipe N" when no reply came (no rtt line to end); iputils before 2010 wrote ", pipe N".
        ("pipe", re.compile(r"^(?:,\s*)?(?P<rest>(?:pipe|ipg/ewma) \d.*)$")),
        ("status", re.compile(
            r"^(?P<rx>\d+)/(?P<tx>\d+) packets, (?P<loss>\d+)% loss"
            r"(?:, min/avg/ewma/max = (?P<values>[\d./]+) ms)?$")),
        ("pattern", re.compile(r"^PATTERN: 0x(?P<pattern>[0-9a-fA-F]+)$")),
        ("warning", re.compile(r"^(?:WARNING|Warning):\s*\S.*$")),
        ("program", re.compile(r"^(?P<prog>(?:\S*/)?[\w.-]*ping[\w.-]*):\s+(?P<msg>\S.*)$")),
        ("local_error", re.compile(
            r"^(?:connect|sendmsg|sendto|send|recvmsg|recvfrom|socket|bind|setsockopt|getsockname):\s+\S.*$")),
        ("local_error", re.compile(r"^(?:unknown host \S+|Do you want to ping broadcast\?.*)$")),
        ("verbose", re.compile(r"^ai->ai_family: .*$")),
        ("wrong_data", re.compile(
            r"^wrong data byte #(?P<byte>\d+) should be 0x(?P<expected>[0-9a-fA-F]+)"
            r" but was 0x(?P<got>[0-9a-fA-F]+)$")),
        ("data_dump", re.compile(r"^#\d+\t[0-9a-fA-F ]*$")),
        ("ip_option", re.compile(r"^(?P<option>RR|TS|LSRR|SSRR):\s*(?P<value>.*?)\s*$")),
        ("ip_option_more", re.compile(r"^(?P<value>Unrecorded hops: \d+|NOP|unknown option [0-9a-f]+)$")),
        ("header_dump", re.compile(r"^IP Hdr Dump:$")),
        ("header_dump", re.compile(r"^[0-9a-f]{4}(?:\s+[0-9a-f]{4})+$")),
        ("header_dump", re.compile(r"^Vr HL TOS\s+Len\s+ID.*$")),
        ("header_dump", re.compile(r"^\s*[0-9a-f]\s+[0-9a-f]\s+[0-9a-f]{2}\s+[0-9a-f]{4}\s.*$")),
        ("icmp_dump", re.compile(
            r"^ICMP: type (?P<type>\d+), code (?P<code>\d+), size (?P<size>\d+)"
            r"(?:, id 0x(?P<id>[0-9a-fA-F]+), seq 0x(?P<seq>[0-9a-fA-F]+))?.*$")),
        ("alive", re.compile(r"^(?P<host>\S+) is alive!$")),
        ("no_answer", re.compile(r"^No response from (?P<host>\S+)$")),
        ("flood", re.compile(r"^[.EC!]+$")),
    ]

    def __init__(self) -> None:
        self.result = PingResult(interrupted=None)
        self.line_no = 0
        self.line = ""
        self.timestamp: float | None = None
        self.last_kind: str | None = None  # "reply" or the type of the last event

    # -- driver

    def feed(self, line_no: int, raw: str) -> None:
        self.line_no, self.line = line_no, raw.rstrip("\r")
        line = _terminal_text(raw).rstrip()
        if line.startswith("\t") and self.last_kind == "ip_options":
            self.result.events[-1].fields["hops"].append(line.strip())
            return
        line = line.lstrip()
        while line.startswith(("^C", "^\\")):
            if line.startswith("^C"):
                self._event("interrupted", "^C")
            line = line[2:].lstrip()
        if not line:
            return
        m = self._TIMESTAMP.match(line)
        self.timestamp = float(m["ts"]) if m else None
        if m:
            line = line[m.end():]
        try:
            if self._dispatch(line):
                return
            first_error = None
        except ParseError as exc:  # partly English (a half-translated catalog): try it in English
            first_error = exc
        # iputils translates its output (gettext): read the line again in English.
        english = untranslate(line)
        if english is not None and self._dispatch(english.strip()):
            return
        if first_error is not None:
            raise first_error
        self._fail("unrecognised ping output")

    def _dispatch(self, line: str) -> bool:
        """Hand ``line`` to the handler of the first pattern it matches; False when none does."""
        for name, pattern in self._LINES:
            m = pattern.match(line)
            if m:
                getattr(self, "_on_" + name)(m)
                return True
        return False

    def finish(self, command: str | None) -> PingResult:
        r = self.result
        if command is not None:
            target, iface = _from_command(command)
            r.target = r.target or target
            if iface is not None:
                if _is_address(iface):
                    r.source = r.source or iface
                else:
                    r.interface = r.interface or iface
        if r.summary_present:
            for name in ("duplicates", "errors", "corrupted"):
                if getattr(r, name) is None:
                    setattr(r, name, 0)
        if any(e.type == "interrupted" for e in r.events):
            r.interrupted = True
        elif r.summary_present or self.last_kind == "local_error":
            r.interrupted = False
        else:
            r.interrupted = None
        return r

    def _fail(self, reason: str) -> None:
        raise ParseError(reason, self.line_no, self.line)

    def _event(self, kind: str, detail: str | None, **fields: Any) -> PingEvent:
        event = PingEvent(kind, detail, fields)
        self.result.events.append(event)
        self.last_kind = kind
        return event

    def _last_event(self, *kinds: str) -> PingEvent:
        events = self.result.events
        if not events or self.last_kind == "reply" or (kinds and events[-1].type not in kinds):
            self._fail("continuation line without the line it continues")
        return events[-1]

    def _last_seq(self) -> int | None:
        return self.result.replies[-1].seq if self.result.replies else None

    # -- handlers, one per entry of _LINES

    def _on_header(self, m: re.Match[str]) -> None:
        r = self.result
        r.target = m["target"] or None  # iputils before 20231222 printed "PING  (addr)" for an empty canonical name
        r.target_addr = _address_of(m["addr"])
        r.source = m["source"]
        r.interface = m["iface"]
        r.data_bytes = int(m["size"])

    def _on_reply(self, m: re.Match[str]) -> None:
        reply = PingReply(seq=int(m["seq"]), from_=m["from"], bytes=int(m["bytes"]),
                          timestamp=self.timestamp)
        rest, pos = m["rest"].rstrip(), 0
        while pos < len(rest):
            t = _REPLY_TAIL.match(rest, pos)
            if not t or t.end() == pos:
                self._fail("unrecognised text in echo reply")
            pos = t.end()
            if t["ttl"] or t["hlim"]:
                reply.ttl = int(t["ttl"] or t["hlim"])
            elif t["time"]:
                reply.time_ms = _number(t["time"]) * 1.0
            elif t["note"] == "DUP!":
                reply.dup = True
            elif t["note"] == "truncated":
                reply.truncated = True
            elif t["note"] == "BAD CHECKSUM!":
                reply.bad_checksum = True
            elif t["note"] == "DIFFERENT ADDRESS!":
                reply.different_address = True
        if reply.truncated:
            reply.time_ms = None
        self.result.replies.append(reply)
        self.last_kind = "reply"
        if reply.bad_checksum:
            self._event("bad_checksum", "(BAD CHECKSUM!)", seq=reply.seq, **{"from": reply.from_})
        if reply.different_address:
            self._event("different_address", "(DIFFERENT ADDRESS!)", seq=reply.seq,
                        **{"from": reply.from_})

    def _icmp_event(self, source: str, seq: int | None, message: str) -> None:
        bad_checksum = message.startswith("(BAD CHECKSUM)")
        if bad_checksum:
            message = message[len("(BAD CHECKSUM)"):].lstrip()
        kind, fields = _classify_icmp(message)
        fields = {**fields, "seq": seq, "from": source}
        if bad_checksum:
            fields["bad_checksum"] = True
        self._event(kind, message, **fields)

    def _on_icmp_from_seq(self, m: re.Match[str]) -> None:
        self._icmp_event(m["from"], int(m["seq"]), m["msg"])

    def _on_icmp_from(self, m: re.Match[str]) -> None:
        self._icmp_event(m["from"], None, m["msg"])

    def _on_icmp_bytes_from(self, m: re.Match[str]) -> None:
        self._icmp_event(m["from"], None, m["msg"])

    def _on_no_answer(self, m: re.Match[str]) -> None:
        fields: dict[str, Any] = {}
        if "seq" in m.re.groupindex:
            fields["seq"] = int(m["seq"])
        if "host" in m.re.groupindex:
            fields["from"] = m["host"]
        self._event("no_answer", m[0], **fields)

    def _on_alive(self, m: re.Match[str]) -> None:
        self._event("alive", m[0], **{"from": m["host"]})

    def _on_stats_header(self, m: re.Match[str]) -> None:
        self.result.summary_present = True
        self.result.target = self.result.target or m["host"].strip() or None

    def _on_counts(self, m: re.Match[str]) -> None:
        r = self.result
        r.summary_present = True
        r.transmitted, r.received = int(m["tx"]), int(m["rx"])
        for piece in filter(None, (p.strip() for p in m["rest"].split(","))):
            for pattern, name in _SUMMARY_PIECES:
                p = pattern.match(piece)
                if p:
                    if name:
                        setattr(r, name, _number(p["n"]))
                    break
            else:
                self._fail(f"unrecognised statistic {piece!r}")

    def _on_rtt(self, m: re.Match[str]) -> None:
        names, values = m["names"].split("/"), m["values"].split("/")
        if len(names) != len(values) or any(n not in _RTT_NAMES for n in names):
            self._fail("unrecognised round-trip statistics")
        for name, value in zip(names, values):
            setattr(self.result, _RTT_NAMES[name], _number(value) * 1.0)
        self._rtt_tail(m["rest"])

    def _on_pipe(self, m: re.Match[str]) -> None:
        self._rtt_tail(m["rest"])

    def _rtt_tail(self, rest: str) -> None:
        for piece in filter(None, (p.strip() for p in rest.split(","))):
            for pattern, apply in _RTT_TAIL_PIECES:
                p = pattern.match(piece)
                if p:
                    apply(self.result, p)
                    break
            else:
                self._fail(f"unrecognised statistic {piece!r}")

    def _on_status(self, m: re.Match[str]) -> None:
        fields: dict[str, Any] = {"received": int(m["rx"]), "transmitted": int(m["tx"]),
                                  "loss_percent": int(m["loss"])}
        if m["values"]:
            keys = ("rtt_min", "rtt_avg", "rtt_ewma", "rtt_max")
            fields.update(zip(keys, map(float, m["values"].split("/"))))
        self._event("status", m[0], **fields)

    def _on_pattern(self, m: re.Match[str]) -> None:
        self._event("pattern", m[0], pattern=m["pattern"])

    def _on_warning(self, m: re.Match[str]) -> None:
        self._event("warning", m[0])

    def _on_program(self, m: re.Match[str]) -> None:
        message = m["msg"]
        if re.match(r"(?i)warning\b", message):
            kind = "warning"
        elif re.match(r"(?:sock[46]\.fd|socktype|ai->|hints\.)", message):
            kind = "verbose"
        else:
            kind = "local_error"
        self._event(kind, m[0])

    def _on_local_error(self, m: re.Match[str]) -> None:
        self._event("local_error", m[0])

    def _on_verbose(self, m: re.Match[str]) -> None:
        self._event("verbose", m[0])

    def _on_wrong_data(self, m: re.Match[str]) -> None:
        self._event("wrong_data", m[0], seq=self._last_seq(), byte=int(m["byte"]),
                    expected=m["expected"], got=m["got"])

    def _on_data_dump(self, m: re.Match[str]) -> None:
        self._last_event("wrong_data").fields.setdefault("dump", []).append(m[0])

    def _on_ip_option(self, m: re.Match[str]) -> None:
        hops = [m["value"]] if m["value"] else []
        self._event("ip_options", m[0], option=m["option"], seq=self._last_seq(), hops=hops)

    def _on_ip_option_more(self, m: re.Match[str]) -> None:
        self._last_event("ip_options").fields["hops"].append(m["value"])

    def _on_header_dump(self, m: re.Match[str]) -> None:
        self._last_event().fields.setdefault("dump", []).append(m[0])

    def _on_icmp_dump(self, m: re.Match[str]) -> None:
        event = self._last_event()
        event.fields.setdefault("dump", []).append(m[0])
        if m["seq"] and event.fields.get("seq") is None:
            event.fields["seq"] = int(m["seq"], 16)

    def _on_flood(self, m: re.Match[str]) -> None:
        """Flood-mode progress dots: nothing to record."""


def parse_ping(text: str, *, command: str | None = None) -> PingResult:
    """Parse the complete output (stdout, optionally with stderr merged) of one ping run.

    :param text: the output; CRLF, ``\\a`` and flood-mode backspaces are tolerated.
    :param command: optional command line that produced it (e.g. ``"ping -c 3 -I eth0 10.0.0.1"``);
        used only to fill ``target``/``source``/``interface`` when the output does not print them
        (e.g. ``ping: connect: Network is unreachable`` comes without a ``PING`` header).
    :returns: a :class:`PingResult` (times in ms, loss in % as printed).
    :raises ParseError: for empty text or any line that is not iputils, busybox or GNU inetutils
        ping output; the message quotes the line and gives its number.
    """
    if not text.strip():
        raise ParseError("empty ping output")
    parser = _PingParser()
    for line_no, line in enumerate(text.split("\n"), start=1):
        parser.feed(line_no, line)
    return parser.finish(command)
