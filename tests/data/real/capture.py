#!/usr/bin/env python3
"""Capture the real tool output the parser tests read (``*.jsonl`` next to this file).

Run as root on a scratch machine; it touches only its own namespaces (``fxcap-a``, ``-b``,
``-c``: a -- b -- c, b forwarding) and ``/etc/netns/fxcap-a/`` (a hosts file for the
empty-name case), and removes them at the end. Pings go only to addresses inside them.

    python3 tests/data/real/capture.py \\
        --iputils 20221126=/opt/iputils-20221126 --iputils 20250605=/opt/iputils-20250605 \\
        --iputils s20071127=/opt/iputils-s20071127/ping \\
        --iproute2 6.1.0=/usr/sbin/ip --iproute2 7.1.0=/opt/iproute2-7.1.0/ip/ip

How the inputs were made (2025, Debian 12, kernel 6.18): iputils from the upstream git tags
(github.com/iputils/iputils), ``meson setup build -Dprefix=PREFIX -DUSE_GETTEXT=true
-DUSE_IDN=false -DBUILD_MANS=false`` (Debian builds ping without NLS, so its ping never
translates); s20071127 with its own Makefile (``make ping CCOPT="-O2 -w -fcommon"``): the last
era that printed ``, pipe N`` on a line of its own; iproute2 v7.1.0 with ``./configure && make
SUBDIRS="lib ip"``, beside Debian's 6.1.0. Locales from ``localedef -i LANG -f UTF-8``;
translated system error texts from Debian's ``libc-l10n``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
A, B, C = "fxcap-a", "fxcap-b", "fxcap-c"
MADE_ETC_NETNS = False
# gettext language directory -> (LC_ALL, LANGUAGE)
LOCALES = {
    "cs": "cs_CZ", "de": "de_DE", "es": "es_ES", "fi": "fi_FI", "fr": "fr_FR", "id": "id_ID", "it": "it_IT",
    "ja": "ja_JP", "ka": "ka_GE", "kab": "kab_DZ", "ko": "ko_KR", "pt_BR": "pt_BR", "ro": "ro_RO", "tr": "tr_TR",
    "uk": "uk_UA", "zh_CN": "zh_CN", "zh_Hant": "zh_TW",
}
# case -> (namespace, ping arguments, needs IPv6 support in the binary)
PING_CASES = {
    "reply": (A, ["-c", "3", "-i", "0.2", "10.78.0.1"], False),
    # A fresh on-link address each run: ARP fails after ~3 s and the errors come for every
    # queued request at once (so iputils reports "pipe N").
    "host-unreachable": (A, ["-c", "3", "-i", "0.3", "-w", "5", "10.77.0.{n}"], False),
    "ttl-exceeded": (A, ["-c", "2", "-i", "0.2", "-t", "1", "10.78.0.1"], False),
    "net-unreachable": (B, ["-c", "1", "10.99.0.1"], False),
    "empty-name": (A, ["-4", "-c", "1", "gw.example"], True),
    "v6-reply": (A, ["-6", "-c", "2", "-i", "0.2", "fd77::2"], True),
    "v6-unreachable": (A, ["-6", "-c", "3", "-i", "0.3", "-w", "5", "fd77::{n}"], True),
}
IP_CASES = {
    "route": ["route", "show"],
    "route-details": ["-d", "route", "show"],
    "route-details-all": ["-d", "route", "show", "table", "all"],
    "route6-details": ["-6", "-d", "route", "show"],
    "route-details-stats": ["-s", "-d", "route", "show"],
    "route-json-details": ["-j", "-d", "route", "show"],
    "route-json-details-stats": ["-j", "-s", "-d", "route", "show"],
    "route-details-oneline": ["-o", "-d", "route", "show"],
    "route-get-details": ["-d", "route", "get", "198.51.100.7"],
}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def setup() -> None:
    for ns in (A, B, C):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", B)
    sh("ip", "-n", B, "link", "add", "vbc", "type", "veth", "peer", "name", "vcb", "netns", C)
    for ns, dev, addrs in ((A, "va", ["10.77.0.1/24", "fd77::1/64"]), (B, "vb", ["10.77.0.2/24", "fd77::2/64"]),
                           (B, "vbc", ["10.78.0.254/24"]), (C, "vcb", ["10.78.0.1/24"])):
        sh("ip", "-n", ns, "link", "set", dev, "up")
        for addr in addrs:
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev, *(["nodad"] if ":" in addr else []))
    sh("ip", "-n", A, "route", "add", "default", "via", "10.77.0.2")
    sh("ip", "-n", C, "route", "add", "default", "via", "10.78.0.254")
    sh("ip", "netns", "exec", B, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    # The router answers every TTL-exceeded (per-namespace rate limit off): runs stay comparable.
    sh("ip", "netns", "exec", B, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
    # Nexthop objects (iproute2 5.3+, kernel 5.3+; resilient groups 5.13+).
    for args in (["id", "101", "via", "10.77.0.2", "dev", "va"], ["id", "102", "via", "10.77.0.3", "dev", "va"],
                 ["id", "103", "group", "101/102", "type", "resilient", "buckets", "8", "idle_timer", "120"],
                 ["id", "104", "group", "101,2/102"], ["id", "105", "blackhole"],
                 ["id", "106", "via", "10.77.0.9", "dev", "va", "onlink"],
                 ["id", "201", "via", "fd77::2", "dev", "va"]):
        sh("ip", "-n", A, "nexthop", "add", *args)
    for dst, nhid in (("198.51.100.0/24", "103"), ("203.0.113.0/24", "104"), ("192.0.2.0/25", "101"),
                      ("192.0.2.128/25", "105"), ("10.200.0.0/16", "106"), ("2001:db8:1::/64", "201")):
        sh("ip", "-n", A, "route", "add", dst, "nhid", nhid)
    # A name whose IPv6 address comes first: getaddrinfo() then gives the IPv4 entry an empty
    # canonical name, and iputils before 20231222 printed "PING  (addr)" (iputils#421).
    global MADE_ETC_NETNS
    MADE_ETC_NETNS = not Path("/etc/netns").exists()
    Path(f"/etc/netns/{A}").mkdir(parents=True, exist_ok=True)
    Path(f"/etc/netns/{A}/hosts").write_text("fd77::2 gw.example\n10.77.0.2 gw.example\n")
    time.sleep(1)  # neighbours and IPv6 routes settle


def teardown() -> None:
    for ns in (A, B, C):
        sh("ip", "netns", "del", ns, check=False)
    hosts = Path(f"/etc/netns/{A}/hosts")
    if hosts.exists():
        hosts.unlink()
        hosts.parent.rmdir()
    if MADE_ETC_NETNS:
        Path("/etc/netns").rmdir()


def ping_binaries(spec: str) -> tuple[str, Path, list[str]]:
    label, _, path = spec.partition("=")
    path = Path(path)
    if path.is_dir():
        languages = sorted(p.name for p in (path / "share" / "locale").iterdir()) if (path / "share" / "locale").is_dir() else []
        return label, path / "bin" / "ping", languages
    return label, path, []


def source_note(what: str) -> str:
    return (f"captured by tests/data/real/capture.py on {platform.system()} {platform.release()} "
            f"({time.strftime('%Y-%m-%d')}), {what}, in scratch namespaces")


FRESH = iter(range(100, 250))


def capture_ping(label: str, binary: Path, languages: list[str]) -> list[dict]:
    records = []
    version = sh(str(binary), "-V", check=False).stdout.strip().splitlines()
    has_v6 = label != "s20071127"
    for case, (ns, args, v6) in PING_CASES.items():
        if v6 and not has_v6:
            continue
        if case == "empty-name" and not label.startswith("2022"):
            continue  # fixed in 20231222; the old build has no -4
        for lang in ["C", *languages]:
            argv = [a.format(n=next(FRESH)) if "{n}" in a else a for a in args]
            # Found through PATH, so its messages say "ping:", not this machine's build path.
            env = {"PATH": f"{binary.parent}:{os.environ['PATH']}",
                   "LC_ALL": "C" if lang == "C" else f"{LOCALES[lang]}.UTF-8"}
            if lang == "zh_Hant":
                env["LANGUAGE"] = "zh_Hant"
            run = subprocess.run(["ip", "netns", "exec", ns, "ping", *argv], capture_output=True,
                                 env=env, timeout=30)
            raw = run.stdout + run.stderr
            note = None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                note = (f"not UTF-8 at byte {exc.start}: iputils cut a multi-byte character "
                        "(a translated unit in a fixed-size buffer); decoded with U+FFFD")
                text = raw.decode("utf-8", errors="replace")
            records.append({
                "id": f"ping-{label}-{case}-{lang}", "tool": "ping", "case": case, "language": lang,
                "variant": f"iputils {label}" + (f" ({version[0]})" if version else ""),
                "command": " ".join(["ping", *argv]), "exit_code": run.returncode,
                "source": source_note(f"LC_ALL={env['LC_ALL']}" + (f" LANGUAGE={env['LANGUAGE']}" if "LANGUAGE" in env else "")),
                "raw": text, **({"note": note} if note else {}),
            })
    return records


def capture_ip(label: str, binary: str) -> list[dict]:
    records = []
    for case, args in IP_CASES.items():
        run = subprocess.run([binary, "-n", A, *args], capture_output=True, text=True, timeout=30)
        if run.returncode != 0:
            continue
        records.append({
            "id": f"ip-{label}-{case}", "tool": "ip-route-json" if "-j" in args else "ip-route", "case": case,
            "variant": f"iproute2 {label}", "command": " ".join(["ip", *args]),
            "source": source_note("routes over nexthop objects (ip nexthop)"), "raw": run.stdout,
        })
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iputils", action="append", default=[], metavar="LABEL=PREFIX_OR_BINARY")
    parser.add_argument("--iproute2", action="append", default=[], metavar="LABEL=IP_BINARY")
    args = parser.parse_args()
    setup()
    try:
        pings = [r for spec in args.iputils for r in capture_ping(*ping_binaries(spec))]
        routes = [r for spec in args.iproute2 for r in capture_ip(*spec.split("=", 1))]
    finally:
        teardown()
    for name, records in (("ping.jsonl", pings), ("ip-nexthop.jsonl", routes)):
        with open(HERE / name, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"{len(records)} records -> {HERE / name}")


if __name__ == "__main__":
    main()
