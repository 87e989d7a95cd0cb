"""Field types shared by the scenario model, the step actions and the check kinds.

Each type validates one kind of value (an interface name, an address, a route table, a
regular expression, ...) and says what is wrong and how to fix it in its error message;
the loader adds file, line and field path. All models forbid unknown fields, so a typo is
an error, not a silent no-op. Names and values are matched with ``fullmatch``: a trailing
newline is never part of a valid name.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, NamedTuple, Optional, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

class SourceInt(int):
    """An int YAML read from text that says more than the number (``0x10``, ``010``, ``1_000``,
    ``52:54:00:12:34:57``, a sexagesimal in YAML 1.1): ``source`` is that text. The loader makes
    them; models keep plain ints (pydantic converts), text fields take ``source``."""

    source: str = ""


class SourceFloat(float):
    """A float YAML read from text that says more than the number (``1.50``, ``1e3``); see ``SourceInt``."""

    source: str = ""


def number_text(value: Any) -> str:
    """The text a number was written as in the scenario (``0x10``, not ``16``), else ``str(value)``."""
    return getattr(value, "source", "") or str(value)


# Each pattern a model field is given with ``described``, in words for error messages.
PATTERN_WORDS: dict[str, str] = {}


def described(pattern: str, words: str) -> str:
    """``pattern`` (for ``Field(pattern=...)``), remembered with ``words`` saying what it allows,
    e.g. "1-100 letters, digits, '_', '.' or '-'": the loader says that instead of the regex."""
    PATTERN_WORDS[pattern] = words
    return pattern


IFNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
NSNAME_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Only net.* sysctls belong to a network namespace; kernel.*, vm.* ... would change the host.
SYSCTL_RE = re.compile(r"net(\.[A-Za-z0-9_-]+)+")
SYSCTL_VALUE_RE = re.compile(r"[A-Za-z0-9_.: \t-]{0,200}")
MAC_RE = re.compile(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}")
# Names the kernel's sysctl tree uses for itself (net.ipv4.conf.all, .default): a link
# named so would be unreachable through sysctl and confuse every per-interface setting.
RESERVED_IFNAMES = ("all", "default", ".", "..")
# Per-namespace in name, host-wide in effect (a write from any namespace flips a global
# static key): refuse them. Source: net/netfilter/nf_hooks_lwtunnel.c (Linux 5.15+).
GLOBAL_NET_SYSCTLS = ("net.netfilter.nf_hooks_lwtunnel",)
U32_MAX = 2**32 - 1


class Model(BaseModel):
    """Base of every scenario model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _ifname(value: str) -> str:
    if not IFNAME_RE.fullmatch(value) or value in RESERVED_IFNAMES:
        if value in RESERVED_IFNAMES:
            raise ValueError(f"{value!r} is reserved (net.ipv4.conf.{value} is the kernel's own): pick another name")
        raise ValueError(f"{value!r} is not a valid interface name: use 1 to 15 characters of A-Z a-z 0-9 _ . -")
    return value


def _nsname(value: str) -> str:
    if not NSNAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid namespace name: use 1 to 32 characters of A-Z a-z 0-9 _ -")
    return value


def _no_scope_text(value: str) -> str:
    # ipaddress accepts "fe80::1%anything"; only an interface name may follow the %.
    if "%" in value:
        scope = value.split("/")[0].split("%", 1)[1]
        if not IFNAME_RE.fullmatch(scope):
            raise ValueError(f"{value!r}: the scope after % must be an interface name, e.g. fe80::1%eth0")
    return value


def _interface_address(value: str) -> str:
    _no_scope_text(value)
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an address with prefix length, e.g. 10.0.0.1/24") from None
    if "/" not in value:
        raise ValueError(f"{value!r} has no prefix length: write it as e.g. {value}/24")
    # Canonical form (RFC 5952 for IPv6, as iproute2 prints it): 2001:DB8:0::1 is 2001:db8::1.
    return str(ipaddress.ip_interface(value))


def _ip(value: str) -> str:
    _no_scope_text(value)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address, e.g. 10.0.100.254") from None


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR form such as 192.168.100.0/24 ({exc})") from None


def _destination(value: str) -> str:
    if value == "default":
        return value
    try:
        return _network(value)
    except ValueError as exc:
        raise ValueError(f"not 'default' or a network: {exc}") from None


def _prefix_or_address(value: str) -> str:
    """A selector such as ``ip rule from``: an address (a /32 or /128) or a network."""
    if value == "all":
        return value
    if "/" not in value:
        return _ip(value)
    return _network(value)


def _mac(value: str) -> str:
    if not MAC_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a MAC address such as 02:00:00:00:00:01")
    if int(value[:2], 16) & 1:
        raise ValueError(f"{value!r} is a multicast MAC (lowest bit of the first byte set): "
                         "a link needs a unicast one such as 02:00:00:00:00:01")
    return value.lower()


def _sysctl_key(key: str) -> str:
    if not SYSCTL_RE.fullmatch(key):
        raise ValueError(f"{key!r} is not a per-namespace sysctl: use a net.* key such as "
                         "net.ipv4.ip_forward (others would change the whole host)")
    if key in GLOBAL_NET_SYSCTLS:
        raise ValueError(f"{key} is host-wide even when written in a namespace: a scenario may not set it")
    return key


def _sysctl_text(value: Any) -> Any:
    """A sysctl value as written: YAML read 12:30 or 1_000 as numbers (750, 1000), and sysctl
    must get what the scenario says; true and false (yes, on ...) are 1 and 0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return number_text(value)
    return value


def _sysctl_value(value: Any) -> str:
    if not isinstance(value, (int, str)):   # true/false are 1/0 already (_sysctl_text)
        raise ValueError(f"sysctl value {value!r} is not a number or a word: write e.g. 1 or \"0 2147483647\"")
    text = str(value)
    if not SYSCTL_VALUE_RE.fullmatch(text):
        raise ValueError(f"sysctl value {text!r} has characters sysctl values never have")
    return text


def _regex(value: str) -> str:
    """A POSIX extended regular expression (as ``grep -E``) that Python reads the same way."""
    if re.search(r"\\[dDpPAZ]|\(\?", value):
        raise ValueError(f"{value!r} uses Python-only regex syntax (\\d, (?...)): write POSIX ERE, e.g. [0-9]")
    from harness.checks.base import python_regex

    import regex

    try:
        regex.compile(python_regex(value))   # the module the judge matches with
    except regex.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    if "\n" in value:
        raise ValueError("a pattern matches within one line: remove the newline")
    return value


def _table(value: Union[int, str]) -> Union[int, str]:
    """A route table: a number 1..2^32-1 or main/local/default."""
    if isinstance(value, bool):
        raise ValueError("a table is a number or main, local, default")
    if isinstance(value, str):
        if value in ("main", "local", "default"):
            return value
        if value.isdigit():
            value = int(value)
        else:
            raise ValueError(f"table {value!r}: use a number 1..{U32_MAX} or main, local, default")
    if not 1 <= value <= U32_MAX:
        raise ValueError(f"table {value} is out of range: use 1..{U32_MAX} (or main, local, default)")
    return value


def _reject_float(value: Any) -> Any:
    # YAML 1e30 or 1.0 is a float; pydantic would round it into an int silently.
    if isinstance(value, float):
        raise ValueError(f"{value!r} is not a whole number")
    return value


# What the schema (harness schema scenario) can say of each: a pattern an editor checks as
# you type; the validators above have the last word and the friendlier messages.
_IP = r"(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(%[A-Za-z0-9_.-]{1,15})?"


def _schema(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": f"^({pattern})$", "description": description})


IfName = Annotated[str, AfterValidator(_ifname), _schema(IFNAME_RE.pattern, "interface name")]
NsName = Annotated[str, AfterValidator(_nsname), _schema(NSNAME_RE.pattern, "namespace name")]
IpAddress = Annotated[str, AfterValidator(_ip), _schema(_IP, "IPv4 or IPv6 address")]
InterfaceAddress = Annotated[str, AfterValidator(_interface_address),
                             _schema(_IP + r"/\d{1,3}", "address with prefix length, e.g. 10.0.0.1/24")]
Network = Annotated[str, AfterValidator(_network), _schema(_IP + r"/\d{1,3}", "network, e.g. 10.0.0.0/24")]
Destination = Annotated[str, AfterValidator(_destination),
                        _schema(r"default|" + _IP + r"/\d{1,3}", "default, or a network such as 10.0.0.0/24")]
Selector = Annotated[str, AfterValidator(_prefix_or_address),
                     _schema(r"all|" + _IP + r"(/\d{1,3})?", "all, an address or a network")]
Mac = Annotated[str, AfterValidator(_mac), _schema(MAC_RE.pattern, "unicast MAC address")]
SysctlKey = Annotated[str, AfterValidator(_sysctl_key), _schema(SYSCTL_RE.pattern, "a net.* sysctl")]
SysctlValue = Annotated[Union[int, str], BeforeValidator(_sysctl_text), AfterValidator(_sysctl_value)]
Regex = Annotated[str, AfterValidator(_regex)]
Table = Annotated[Union[int, str], AfterValidator(_table)]
U32 = Annotated[int, BeforeValidator(_reject_float), Field(ge=0, le=U32_MAX)]
U8 = Annotated[int, BeforeValidator(_reject_float), Field(ge=0, le=255)]
Port = Annotated[int, BeforeValidator(_reject_float), Field(ge=1, le=65535)]
Mtu = Annotated[int, BeforeValidator(_reject_float), Field(ge=68, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


def ip_version(value: str) -> int:
    """4 or 6 for an address, an address with prefix, or a network (``default`` is 4)."""
    if value in ("default", "all"):
        return 4
    return ipaddress.ip_interface(value.split("%")[0] if "/" not in value else value).version


def family_flag(version: Optional[int]) -> str:
    """``-4`` / ``-6`` for iproute2, from an IP version."""
    return "-6" if version == 6 else "-4"


class Ref(NamedTuple):
    """A name a scenario item uses: the field it sits in (a path below the item), the
    namespace, and optionally an interface in it that must exist (of ``kind``, if given) or
    an address the scenario must give that namespace (``address``)."""

    field: tuple
    namespace: str
    interface: Optional[str] = None
    kind: Optional[str] = None
    address: Optional[str] = None
