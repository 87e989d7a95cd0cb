"""Bad scenarios for the new kinds are refused before anything runs, each with one line that
names the file and line, the field path and the fix; hostile YAML (alias bombs, huge numbers,
deep nesting, odd keys) is refused quickly; YAML merge keys work.
"""

import functools
import re
import textwrap

import pytest

from harness.loader import ScenarioError, parse_scenario

BASE = """\
name: t
namespaces:
  a:
  b:
veths:
  - {namespace: a, name: a0, addresses: [10.0.0.1/24], peer: {namespace: b, name: b0, addresses: [10.0.0.2/24]}}
"""
CHECK = "checks: [{ping: {from: a, to: 10.0.0.2}}]\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "t.yaml")
    return [str(p) for p in err.value.problems]


def only_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    assert "\n" not in found[0], found[0]
    return found[0]


# (what, YAML after BASE, the one problem). Line 8 is the first line after BASE.
REFUSALS = [
    ("a vlan without id", "links:\n  - {namespace: a, name: v10, kind: vlan, link: a0}\n" + CHECK,
     "t.yaml:8: links[0]: a vlan link needs 'id'"),
    ("a VLAN id out of range", "links:\n  - {namespace: a, name: v10, kind: vlan, link: a0, id: 5000}\n" + CHECK,
     "t.yaml:8: links[0]: VLAN id 5000 is out of range: use 1-4094"),
    ("a macvlan without its parent", "links:\n  - {namespace: a, name: m0, kind: macvlan}\n" + CHECK,
     "t.yaml:8: links[0]: a macvlan link needs 'link'"),
    ("a macvlan mode", "links:\n  - {namespace: a, name: m0, kind: macvlan, link: a0, mode: fast}\n" + CHECK,
     "t.yaml:8: links[0]: mode 'fast': a macvlan takes one of private, vepa, bridge, passthru, source"),
    ("a vxlan with remote and group",
     "links:\n  - {namespace: a, name: vx0, kind: vxlan, id: 5, remote: 10.0.0.2, group: 239.1.1.1}\n" + CHECK,
     "t.yaml:8: links[0]: a vxlan has a remote or a group, not both"),
    ("a VRF on the main table", "links:\n  - {namespace: a, name: blue, kind: vrf, table: 254}\n" + CHECK,
     "t.yaml:8: links[0]: table 254 is reserved (unspec/default/main/local): pick another number"),
    ("a setting of another kind", "links:\n  - {namespace: a, name: d0, kind: dummy, ports: [a0]}\n" + CHECK,
     "t.yaml:8: links[0]: 'ports' does not apply to dummy"),
    ("a change that changes nothing", "links:\n  - {namespace: a, name: a0}\n" + CHECK,
     "t.yaml:8: links[0]: say what to change: up, mtu, mac, master, nomaster or addresses (or give 'kind' to "
     "create a link)"),
    ("a refused change that adds addresses",
     "steps:\n  - links:\n      - {namespace: a, name: a0, kind: veth, peer: {namespace: b, name: x},"
     " addresses: [10.9.0.1/24], expect_error: exists}\n    checks: [{ping: {from: a, to: 10.0.0.2}}]\n",
     "t.yaml:9: steps[0].links[0]: a change the kernel must refuse cannot also add addresses: add them in a "
     "later step"),
    ("nodad on IPv4", "addresses:\n  - {namespace: a, dev: a0, address: 10.1.0.1/24, nodad: true}\n" + CHECK,
     "t.yaml:8: addresses[0]: nodad applies to IPv6 addresses only (IPv4 has no DAD)"),
    ("preferred_lft alone", "addresses:\n  - {namespace: a, dev: a0, address: 10.1.0.1/24, preferred_lft: 0}\n" + CHECK,
     "t.yaml:8: addresses[0]: preferred_lft needs valid_lft too (ip addr add ... valid_lft V preferred_lft P)"),
    ("a route with two kinds of path", "routes:\n  - {namespace: a, dst: 10.5.0.0/24, via: 10.0.0.2, nhid: 1}\n" + CHECK,
     "t.yaml:8: routes[0]: give one of via, nexthops, nhid (found via and nhid)"),
    ("a blackhole with a next hop",
     "routes:\n  - {namespace: a, dst: 10.5.0.0/24, type: blackhole, via: 10.0.0.2}\n" + CHECK,
     "t.yaml:8: routes[0]: a blackhole route takes no via, dev, nexthops or nhid"),
    ("mtu_lock without mtu", "routes:\n  - {namespace: a, dst: 10.5.0.0/24, via: 10.0.0.2, mtu_lock: true}\n" + CHECK,
     "t.yaml:8: routes[0]: mtu_lock needs mtu"),
    ("onlink without a next hop", "routes:\n  - {namespace: a, dst: 10.5.0.0/24, dev: a0, onlink: true}\n" + CHECK,
     "t.yaml:8: routes[0]: onlink applies to a next hop given with via"),
    ("an IPv6 route via IPv4", "routes:\n  - {namespace: a, dst: 'fd00::/64', via: 10.0.0.2}\n" + CHECK,
     "t.yaml:8: routes[0]: next hop 10.0.0.2 is IPv4 but the route is IPv6"),
    ("nexthop id 0", "nexthops:\n  - {namespace: a, id: 0, via: 10.0.0.2}\n" + CHECK,
     "t.yaml:8: nexthops[0]: nexthop id 0 is not valid: use 1 or more"),
    ("a nexthop that is two things", "nexthops:\n  - {namespace: a, id: 1, via: 10.0.0.2, group: [{id: 2}]}\n" + CHECK,
     "t.yaml:8: nexthops[0]: a nexthop object is one of: via and/or dev, blackhole, group (found via/dev and group)"),
    ("buckets of an mpath group", "nexthops:\n  - {namespace: a, id: 1, group: [{id: 2}], buckets: 8}\n" + CHECK,
     "t.yaml:8: nexthops[0]: buckets and idle_timer apply to type: resilient"),
    ("a rule with two actions", "rules:\n  - {namespace: a, priority: 5, table: 100, action: prohibit}\n" + CHECK,
     "t.yaml:8: rules[0]: a rule does one thing: give one of table, l3mdev, goto, action (found table and action)"),
    ("a rule without action", "rules:\n  - {namespace: a, priority: 5}\n" + CHECK,
     "t.yaml:8: rules[0]: a rule does one thing: give one of table, l3mdev, goto, action"),
    ("fwmask without fwmark", "rules:\n  - {namespace: a, fwmask: 255, table: 5}\n" + CHECK,
     "t.yaml:8: rules[0]: fwmask needs fwmark"),
    ("ports without a protocol", "rules:\n  - {namespace: a, sport: 80, table: 5}\n" + CHECK,
     "t.yaml:8: rules[0]: sport/dport need ipproto: tcp, udp or sctp"),
    ("a uid that is not a range", "rules:\n  - {namespace: a, uidrange: '1000', table: 5}\n" + CHECK,
     "t.yaml:8: rules[0].uidrange: '1000': write a uid range such as 1000-1000"),
    ("a port range backwards", "rules:\n  - {namespace: a, ipproto: tcp, dport: 2000-1000, table: 5}\n" + CHECK,
     "t.yaml:8: rules[0].dport: '2000-1000': a port range is 0-65535, low end first"),
    ("a rule of two families", "rules:\n  - {namespace: a, from: 10.0.0.0/24, to: 'fd00::/64', table: 5}\n" + CHECK,
     "t.yaml:8: rules[0]: from and to are of different IP versions"),
    ("netem that does nothing", "qdiscs:\n  - {namespace: a, dev: a0}\n" + CHECK,
     "t.yaml:8: qdiscs[0]: say what netem does: delay, loss, rate or limit"),
    ("jitter without delay", "qdiscs:\n  - {namespace: a, dev: a0, jitter: 5}\n" + CHECK,
     "t.yaml:8: qdiscs[0]: jitter needs delay"),
    ("deleting a namespace nobody made", "steps:\n  - delete_namespaces: [c]\n    checks: [{ping: {from: a, to: 10.0.0.2}}]\n",
     "t.yaml:8: steps[0].delete_namespaces[0]: unknown namespace 'c' (declare it under 'namespaces')"),
    ("a sysctl of a link nobody made",
     "steps:\n  - sysctls: {a: {net.ipv4.conf.eth9.rp_filter: 1}}\n    checks: [{ping: {from: a, to: 10.0.0.2}}]\n",
     "t.yaml:8: steps[0].sysctls.a.net.ipv4.conf.eth9.rp_filter: unknown interface 'eth9' in namespace 'a'"),
    ("a ping source the namespace does not have", "checks:\n  - ping: {from: a, to: 10.0.0.2, source: 10.0.0.9}\n",
     "t.yaml:8: checks[0].ping.source: 10.0.0.9 is not an address of namespace 'a' (it has: 10.0.0.1); give it "
     "to one of its links, or use one of those"),
    ("ping on a device and a VRF", "checks:\n  - ping: {from: a, to: 10.0.0.2, interface: a0, vrf: a0}\n",
     "t.yaml:8: checks[0].ping: give interface or vrf, not both (ping binds to one device)"),
    ("an ICMP error and replies", "checks:\n  - ping: {from: a, to: 10.0.0.2, expect: reachable, error: {type: ttl_exceeded}}\n",
     "t.yaml:8: checks[0].ping: an expected ICMP error means no reply: drop expect: reachable"),
    ("an MTU on a TTL error", "checks:\n  - ping: {from: a, to: 10.0.0.2, error: {type: ttl_exceeded, mtu: 1300}}\n",
     "t.yaml:8: checks[0].ping.error: mtu applies to type: frag_needed only"),
    ("a user name that is a command", "checks:\n  - ping: {from: a, to: 10.0.0.2, user: 'root; rm'}\n",
     "t.yaml:8: checks[0].ping.user: 'root; rm' is not a user name such as nobody"),
    ("reply limits on an unreachable ping", "checks:\n  - ping: {from: a, to: 10.0.0.2, expect: unreachable, ttl: 64}\n",
     "t.yaml:8: checks[0].ping: ttl, max_rtt and max_loss apply to expect: reachable only"),
    ("a route check with table and VRF", "checks:\n  - route: {namespace: a, dst: default, table: 10, vrf: a0}\n",
     "t.yaml:8: checks[0].route: give 'table' or 'vrf', not both"),
    ("a route check of the wrong family", "checks:\n  - route: {namespace: a, dst: 10.0.0.0/24, ipv6: true}\n",
     "t.yaml:8: checks[0].route: ipv6: true contradicts dst 10.0.0.0/24"),
    ("a path that asserts nothing", "checks:\n  - path: {namespace: a, to: 10.0.0.2}\n",
     "t.yaml:8: checks[0].path: say what the path must be: one or more of dev, via, src, table, type, mtu, mtu_lock, exception"),
    ("iif without from", "checks:\n  - path: {namespace: a, to: 10.0.0.2, iif: a0, dev: a0}\n",
     "t.yaml:8: checks[0].path: iif needs from (ip route get ... from ADDR iif DEV)"),
    ("an unreachable path with a device", "checks:\n  - path: {namespace: a, to: 10.0.0.2, dev: a0, expect: unreachable}\n",
     "t.yaml:8: checks[0].path: an unreachable path has no dev, via, src, table, type or mtu to check"),
    ("a sysctl without value", "checks:\n  - sysctl: {namespace: a, key: net.ipv4.ip_forward}\n",
     "t.yaml:8: checks[0].sysctl: say the value the sysctl must have (value: ...)"),
    ("an absent sysctl with a value", "checks:\n  - sysctl: {namespace: a, key: net.ipv4.ip_forward, value: 1, expect: absent}\n",
     "t.yaml:8: checks[0].sysctl: an absent sysctl has no value: drop value"),
    ("seen_from without a listener", "checks:\n  - connect: {from: a, to: 10.0.0.2, port: 80, seen_from: 10.0.0.1}\n",
     "t.yaml:8: checks[0].connect: seen_from needs a listener (listen) and expect: open"),
    ("nothing to run", "checks:\n  - command: {namespace: a, run: []}\n",
     "t.yaml:8: checks[0].command.run: say what to run: a list of arguments or a bash script"),
    ("an exit code out of range", "checks:\n  - command: {namespace: a, run: 'true', exit_code: 300}\n",
     "t.yaml:8: checks[0].command.exit_code: exit code 300 is out of range: use 0-255, nonzero or any"),
    ("a Python-only pattern", "checks:\n  - command: {namespace: a, run: 'true', stdout: '\\d+'}\n",
     "t.yaml:8: checks[0].command.stdout: '\\\\d+' uses Python-only regex syntax (\\d, (?...)): write POSIX ERE, "
     "e.g. [0-9]"),
    ("a multicast MAC", "checks:\n  - link: {namespace: a, name: a0, mac: '01:00:00:00:00:01'}\n",
     "t.yaml:8: checks[0].link.mac: '01:00:00:00:00:01' is a multicast MAC (lowest bit of the first byte set): a "
     "link needs a unicast one such as 02:00:00:00:00:01"),
    ("a neighbour state that is not one", "checks:\n  - neighbour: {namespace: a, address: 10.0.0.2, state: [UP]}\n",
     "t.yaml:8: checks[0].neighbour.state[0]: Input should be 'REACHABLE', 'STALE', 'DELAY', 'PROBE', 'FAILED', "
     "'INCOMPLETE', 'PERMANENT', 'NOARP' or 'NONE' (got 'UP')"),
    ("two kinds in one check", "checks:\n  - {ping: {from: a, to: 10.0.0.2}, route: {namespace: a, dst: default}}\n",
     "t.yaml:8: checks[0]: a check has exactly one of address, command, connect, link, neighbour, nexthop, path, ping, "
     "route, rule, sysctl (found ['ping', 'route'])"),
    ("within 0", "checks:\n  - {within: 0, ping: {from: a, to: 10.0.0.2}}\n",
     "t.yaml:8: checks[0].within: 0 is out of range: use more than 0"),
    ("a count out of range", "checks:\n  - ping: {from: a, to: 10.0.0.2, count: 100000}\n",
     "t.yaml:8: checks[0].ping.count: 100000 is out of range: use at most 1000"),
    ("a count that is not a number", "checks:\n  - ping: {from: a, to: 10.0.0.2, count: many}\n",
     "t.yaml:8: checks[0].ping.count: 'many' is not a whole number: use one such as 5"),
    ("an argument YAML reads as a boolean", "checks:\n  - command: {namespace: a, run: [true]}\n",
     "t.yaml:8: checks[0].command.run[0]: YAML reads true as a boolean: quote it for text ('true')"),
    ("a check kind without its mapping", "checks:\n  - ping\n",
     "t.yaml:8: checks[0]: expected a mapping ('key: value' lines or {key: value}), got 'ping'"),
    ("a flag that is not true or false", "checks:\n  - link: {namespace: a, name: a0, up: 2}\n",
     "t.yaml:8: checks[0].link.up: 2 is not true or false: write true or false"),
    ("a list where one address goes", "checks:\n  - ping: {from: a, to: [10.0.0.2]}\n",
     "t.yaml:8: checks[0].ping.to: expected text, got a list"),
    ("a misspelt ICMP error", "checks:\n  - ping: {from: a, to: 10.0.0.2, error: {type: ttl_exceded}}\n",
     "t.yaml:8: checks[0].ping.error.type: Input should be 'ttl_exceeded', 'frag_needed', 'net_unreachable', "
     "'host_unreachable', 'port_unreachable', 'protocol_unreachable' or 'prohibited' (got 'ttl_exceded'); "
     "did you mean 'ttl_exceeded'?"),
    ("a check name with a backquote", "checks:\n  - {name: 'a`b', ping: {from: a, to: 10.0.0.2}}\n",
     "t.yaml:8: checks[0].name: 'a`b' is not allowed here: use 1-120 characters, no control characters, '|' or '`'"),
    ("a defaults typo", "defaults: {ipv6_dad: true}\n" + CHECK,
     "t.yaml:7: defaults.ipv6_dad: unknown field 'ipv6_dad'; did you mean 'ipv6_nodad'?"),
]


@pytest.mark.parametrize("what, text, problem", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal_is_one_line_with_line_field_and_fix(what, text, problem):
    assert only_problem(BASE + text) == problem


def test_a_refusal_in_each_of_two_places_is_reported_twice():
    found = problems(BASE + "links:\n  - {namespace: a, name: v10, kind: vlan, link: a0}\n"
                            "rules:\n  - {namespace: a, priority: 5}\n" + CHECK)
    assert found == ["t.yaml:8: links[0]: a vlan link needs 'id'",
                     "t.yaml:10: rules[0]: a rule does one thing: give one of table, l3mdev, goto, action"]


def test_expect_error_at_the_top_level_names_its_line_and_field():
    problem = only_problem(BASE + "routes:\n  - {namespace: a, dst: default, via: 10.0.0.2, expect_error: File exists}\n"
                           + CHECK)
    assert problem.startswith("t.yaml:8: routes[0].expect_error: a change the kernel must refuse belongs in a step")


def test_expect_error_at_the_top_level_is_refused_with_the_fix():
    problem = only_problem(BASE + "routes:\n  - {namespace: a, dst: default, via: 10.0.0.2, expect_error: File exists}\n"
                           + CHECK)
    assert problem.endswith("belongs in a step, not in the set-up: move it into a step")


def test_run_of_the_wrong_type_is_one_problem():
    assert only_problem(BASE + "checks:\n  - command: {namespace: a, run: true}\n").startswith(
        "t.yaml:8: checks[0].command.run: ")


def test_host_wide_sysctl_in_a_step_names_the_key():
    problem = only_problem(BASE + "steps:\n  - sysctls: {a: {kernel.hostname: x}}\n    checks: [{ping: {from: a, to: 10.0.0.2}}]\n")
    assert problem.startswith("t.yaml:8: steps[0].sysctls.a.kernel.hostname: 'kernel.hostname' is not a "
                              "per-namespace sysctl")


# ------------------------------------------------------------------ YAML itself

def test_merge_keys_share_settings_and_explicit_keys_win():
    scenario = parse_scenario(textwrap.dedent("""\
        name: merge
        namespaces: {a: }
        checks:
          - ping: &p {from: a, to: 127.0.0.1, count: 2, deadline: 1}
          - ping: {<<: *p, count: 1}
          - ping: {<<: [*p], to: 127.0.0.2}
        """), "t.yaml")
    assert [(c.spec.count, c.spec.to) for c in scenario.checks] == [(2, "127.0.0.1"), (1, "127.0.0.1"),
                                                                    (2, "127.0.0.2")]


def test_a_key_given_twice_next_to_a_merge_is_still_an_error():
    assert only_problem("name: m\nnamespaces: {a: }\nchecks:\n  - ping: &p {from: a, to: 127.0.0.1}\n"
                        "  - ping: {<<: *p, count: 1, count: 2}\n") == (
        "t.yaml:5: checks[1].ping.count: 'count' is given twice; keep one")


def test_a_merged_field_the_kind_does_not_take_is_named():
    found = problems("name: m\nnamespaces: {a: }\nchecks:\n  - ping: &p {from: a, to: 127.0.0.1}\n"
                     "  - route: {<<: *p, namespace: a, dst: default}\n")
    assert [p.split(": ", 2)[1] for p in found] == ["checks[1].route.from", "checks[1].route.to"]
    assert all("unknown field" in p for p in found)


def test_a_list_as_a_key():
    assert only_problem("name: x\nnamespaces: {a: }\n? [a, b]\n: 1\n" + CHECK.replace("10.0.0.2", "127.0.0.1")) == (
        "t.yaml:3: a key must be a word, not a list")


def test_a_mapping_as_a_key():
    assert only_problem("name: x\nnamespaces:\n  {a: 1}: \n" + CHECK) == (
        "t.yaml:3: namespaces: a key must be a word, not a dict")


def test_a_5000_digit_integer():
    problem = only_problem("name: x\nnamespaces: {a: }\nchecks:\n  - ping:\n      from: a\n      to: 127.0.0.1\n"
                           "      count: " + "9" * 5000 + "\n")
    assert problem.startswith("t.yaml:7: checks[0].ping.count: ") and problem.endswith("write a value the field takes")
    assert len(problem) < 400


def test_a_5000_digit_integer_gets_a_fix_for_the_author():
    problem = only_problem("name: x\nnamespaces: {a: }\nchecks: [{ping: {from: a, to: 127.0.0.1, count: "
                           + "9" * 5000 + "}}]\n")
    assert "sys.set_int_max_str_digits" not in problem


@functools.lru_cache(maxsize=None)
def _hostile(text: str) -> str:
    """The one problem reported for ``text`` (each hostile document is read once per session:
    100000 nested brackets cost PyYAML's scanner seconds, quadratic in the depth it reaches)."""
    return only_problem(text)


BILLION_LAUGHS = ("name: x\nnamespaces: {a: }\nlol: &a [1,1,1,1,1,1,1,1,1]\n"
                  + "".join(f"l{i}: &l{i} [" + ",".join([f"*{'a' if i == 1 else f'l{i - 1}'}"] * 9) + "]\n"
                            for i in range(1, 10))
                  + "checks: [{ping: {from: a, to: 127.0.0.1}}]\n")
DEEP = "name: x\nnamespaces: {a: }\nchecks: " + "[" * 100_000 + "]" * 100_000 + "\n"


def test_a_billion_laughs_is_refused():
    assert re.fullmatch(r"t\.yaml:\d+: l\d: the document expands to more than 200000 values \(YAML aliases "
                        r"repeating each other\?\): simplify it", _hostile(BILLION_LAUGHS))


def test_100000_nested_brackets_are_refused():
    assert _hostile(DEEP) == "t.yaml:3: nested more than 100 levels deep: flatten it"


@pytest.mark.parametrize("text", [BILLION_LAUGHS, DEEP], ids=["billion-laughs", "deep"])
def test_hostile_yaml_names_a_line(text):
    assert _hostile(text).startswith("t.yaml:")
    assert _hostile(text).split(":")[1].isdigit()


def test_a_control_character_is_one_line():
    only_problem("name: x\nnamespaces: {a: }\ndescription: \x00\n" + CHECK)


# ------------------------------------------------------------------ names and addresses over steps

BASE_STEPS = """\
name: t
namespaces: {a: , b: }
veths: [{namespace: a, name: a0, addresses: [10.0.0.1/24], peer: {namespace: b, name: b0, addresses: [10.0.0.2/24]}}]
"""


def test_a_name_deleted_in_a_step_may_be_made_again_in_a_later_one():
    parse_scenario(BASE_STEPS + textwrap.dedent("""\
        steps:
          - delete_links: [{namespace: a, name: a0}]
            checks: [{link: {namespace: a, name: a0, expect: absent}}]
          - veths: [{namespace: a, name: a0, peer: {namespace: b, name: b0}}]
            checks: [{link: {namespace: a, name: a0}}]
        """), "t.yaml")


def test_a_name_made_twice_is_refused():
    assert only_problem(BASE_STEPS + textwrap.dedent("""\
        steps:
          - veths: [{namespace: a, name: a0, peer: {namespace: b, name: b9}}]
            checks: [{link: {namespace: a, name: a0}}]
        """)) == ("t.yaml:5: steps[0].veths[0].name: interface 'a0' is declared twice in namespace 'a'; rename one (or "
                  "delete the first before)")


def test_an_address_of_a_deleted_link_may_be_given_again():
    parse_scenario(BASE_STEPS + textwrap.dedent("""\
        steps:
          - delete_links: [{namespace: a, name: a0}]
            checks: [{link: {namespace: a, name: a0, expect: absent}}]
          - veths: [{namespace: a, name: a1, addresses: [10.0.0.1/24], peer: {namespace: b, name: b1}}]
            checks: [{link: {namespace: a, name: a1}}]
        """), "t.yaml")


@pytest.mark.parametrize("step", [
    "delete_addresses: [{namespace: a, dev: a0, address: 10.0.0.1/24}]\n"
    "    addresses: [{namespace: a, dev: a0, address: 10.0.0.1/24}]",
    "delete_links: [{namespace: a, name: a0}]\n"
    "    veths: [{namespace: a, name: a0, peer: {namespace: b, name: b0}}]",
], ids=["address", "veth"])
def test_delete_and_make_again_in_one_step(step):
    parse_scenario(BASE_STEPS + f"steps:\n  - {step}\n    checks: [{{link: {{namespace: a, name: a0}}}}]\n", "t.yaml")


def test_a_veth_into_a_deleted_namespace_may_be_made_again():
    parse_scenario(BASE_STEPS + textwrap.dedent("""\
        steps:
          - delete_namespaces: [b]
            checks: [{link: {namespace: a, name: a0, expect: absent, within: 2}}]
          - namespaces: {b: }
            veths: [{namespace: a, name: a0, peer: {namespace: b, name: b0}}]
            checks: [{link: {namespace: a, name: a0}}]
        """).replace("expect: absent, within: 2}}", "expect: absent}, within: 2}"), "t.yaml")


def test_within_written_inside_a_check_says_where_it_goes(tmp_path):
    from harness.loader import ScenarioError, parse_scenario

    text = "name: w\nnamespaces: {a: }\nsteps:\n  - checks:\n      - command: {namespace: a, run: 'true', within: 2}\n"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "w.yaml")
    assert "it goes beside the check kind, not inside it: - {within: ..., command: {...}}" in str(err.value)
