"""The bash screen of every check agrees with its Python judge: PASS exactly when it holds.

The screen decides ``within`` retries, which steps keep their namespace state and repro.sh's
verdicts; the judge has the last word. Every run of the kind tests asserts the agreement
(``kindtools.run``); every shipped scenario runs once (test_scenarios_shipped) with each
step's checks followed by their inversions made here (present <-> absent, reachable <->
unreachable, ...), so both sides see checks that hold and checks that do not. Command and connect checks are not doubled (a command
may change state; a second listener would take the same port).

Patterns (command outputs, expect_error) are POSIX extended regular expressions matched line by
line, as ``grep -E`` does, on both sides: the cases below hold both to that.
"""

import copy

import pytest

from kindtools import screens_hold, spec_of
from harness.checks import judge
from harness.checks.refused import RefusedCheck
from harness.protocol import CheckOutput

NOT_DOUBLED = ("command", "connect")


def inverted(check: dict):
    """The check that asserts the opposite of ``check`` (a scenario's check as YAML data), or
    None for kinds that are not doubled and for checks with ``within`` (their state is still
    changing: an inversion running beside them would race with it)."""
    [kind] = [k for k in check if k not in ("name", "within")]
    if kind in NOT_DOUBLED or check.get("within"):
        return None
    if kind == "ping" and any(k in check[kind] for k in ("error", "size", "pmtudisc", "send_ttl", "silent")):
        return None  # it provokes ICMP errors and PMTU state: a twin beside it would change what it sees
    spec = dict(check[kind])
    name = inversion_name(check.get("name") or spec_of(kind, spec).title())
    if kind == "ping":
        if spec.get("expect", "reachable") == "reachable":
            for key in ("ttl", "max_loss", "max_rtt"):
                spec.pop(key, None)
            spec["expect"] = "unreachable"
        else:
            spec.pop("error", None)
            spec["expect"] = "reachable"
    elif kind == "path":
        if spec.get("expect", "routed") == "routed":
            for key in ("dev", "via", "src", "table", "type", "mtu", "mtu_lock"):
                spec.pop(key, None)
            spec["expect"] = "unreachable"
        else:
            spec.update(expect="routed", type="unicast")
    elif kind == "sysctl":
        if spec.get("expect", "present") == "present":
            spec["value"] = "4242 4242"
        else:
            spec.update(expect="present", value="0")
    else:  # route, link, address, neighbour, rule: present <-> absent
        spec["expect"] = "absent" if spec.get("expect", "present") == "present" else "present"
    return {"name": name, kind: spec}


INVERTED = "inverted: "


def inversion_name(name: str) -> str:
    return (INVERTED + name)[:120]


def with_inversions(data: dict) -> tuple[dict, int]:
    """``data`` (a scenario) with each step's checks followed by their inversions; and how many."""
    data = copy.deepcopy(data)
    count = 0
    for holder in [data] + list(data.get("steps") or []):
        checks = holder.get("checks") or []
        extra = [c for c in (inverted(check) for check in checks) if c]
        holder["checks"] = checks + extra
        count += len(extra)
    return data, count


COMMAND_OUTPUTS = [
    # (what, pattern, stdout): the pattern matches per POSIX ERE (grep -E, any line), as documented
    ("a POSIX class", "exit [[:digit:]]+", "exit 42\n"),
    ("GNU word boundaries", r"\<foo\>", "a foo b\n"),
    ("a negated class does not cross lines", "foo[^x]bar", "foo\nbar\n"),
    ("\\s does not cross lines", r"foo\sbar", "foo\nbar\n"),
]


@pytest.mark.parametrize("what, pattern, stdout", COMMAND_OUTPUTS, ids=[c[0] for c in COMMAND_OUTPUTS])
def test_command_patterns_mean_the_same_to_screen_and_judge(what, pattern, stdout):
    cases = []
    for key, code in (("stdout", 0), ("not_stdout", 0)):
        spec = spec_of("command", {"namespace": "a", "run": "x", key: pattern})
        cases.append((spec, code, stdout, ""))
    held = screens_hold(cases)
    verdicts = [judge(spec, CheckOutput("t", code, "", out, err, 0.0)).status for spec, code, out, err in cases]
    assert [v == "PASS" for v in verdicts] == held, f"judge {verdicts}, screen {held}"


def test_expect_error_patterns_mean_the_same_to_screen_and_judge():
    spec = RefusedCheck(namespace="a", change="route add default", pattern="File [[:alpha:]]+")
    held = screens_hold([(spec, 2, "", "RTNETLINK answers: File exists\n")])
    verdict = judge(spec, CheckOutput("t", 2, "", "", "RTNETLINK answers: File exists\n", 0.0))
    assert held == [verdict.status == "PASS"], f"judge {verdict.status}, screen {held}"
