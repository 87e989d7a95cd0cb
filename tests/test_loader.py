"""Scenario files: valid ones load, bad ones fail before anything runs with file, line, field and fix."""

import textwrap
from pathlib import Path

import pytest

from conftest import DATA, SCENARIOS
from harness.loader import ScenarioError, load_scenario, parse_scenario

BASE = """\
name: t
namespaces:
  a:
  b:
veths:
  - {namespace: a, name: veth-a, addresses: [10.0.0.1/24],
     peer: {namespace: b, name: veth-b, addresses: [10.0.0.2/24]}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(textwrap.dedent(text), "t.yaml")
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path):
    scenario = load_scenario(path)
    assert scenario.all_steps and all(step.checks or step is not scenario.all_steps[0] for step in scenario.all_steps)


def test_seed_demo_as_written_is_rejected_naming_ser_veth():
    with pytest.raises(ScenarioError) as err:
        load_scenario(DATA / "seed-demo-as-written.yaml")
    text = str(err.value)
    assert "seed-demo-as-written.yaml:14: addresses[0].dev: unknown interface 'ser-veth'" in text
    assert "did you mean 'svr-veth'?" in text
    assert "did you mean 'svrgw-veth'?" in text  # sergw-veth, the other typo
    assert "routes[1].dev" in text


def test_unknown_field_suggests_the_closest():
    [p] = problems(BASE + "checks:\n  - ping: {from: a, to: 10.0.0.2, tll: 64}\n")
    assert p.startswith("t.yaml:9: checks[0].ping.tll: unknown field 'tll'; did you mean 'ttl'?")


def test_unknown_namespace_suggests_the_closest():
    [p] = problems(BASE + "checks:\n  - ping: {from: aa, to: 10.0.0.2}\n")
    assert "checks[0].ping.from: unknown namespace 'aa'; did you mean 'a'?" in p


def test_interface_in_another_namespace_is_named():
    [p] = problems(BASE + "checks:\n  - route: {namespace: a, dst: default, dev: veth-b}\n")
    assert "unknown interface 'veth-b' in namespace 'a'" in p and "namespace 'b'" in p


@pytest.mark.parametrize(
    "snippet, expected",
    [
        ("name: this-name-is-too-long", "not a valid interface name: use 1 to 15 characters"),
        ("name: 'bad name'", "not a valid interface name"),
        ("name: x1, addresses: [10.0.0.300/24]", "is not an address with prefix length"),
        ("name: x1, addresses: [10.0.0.3]", "has no prefix length"),
        ("name: x1, mac: 02:00", "is not a MAC address"),
    ],
)
def test_bad_values_name_the_field(snippet, expected):
    text = BASE + f"  - {{namespace: a, {snippet}, peer: {{namespace: b, name: x2}}}}\n"
    text += "checks:\n  - ping: {from: a, to: 10.0.0.2}\n"
    found = problems(text)
    assert any(p.startswith("t.yaml:8: veths[1].") and expected in p for p in found), found


def test_a_bad_scenario_name_says_what_a_name_may_hold():
    [p] = problems("name: 'seed demo'\nnamespaces: {a: }\n")
    assert p == "t.yaml:1: name: 'seed demo' is not allowed here: use 1-100 letters, digits, '_', '.' or '-'"


def test_a_command_takes_unquoted_numbers_as_written():
    """YAML 1.1 reads 0x10, 010, 1_000, 12:30 and a MAC address as numbers; a command gets the text."""
    args = ["0x10", "010", "1_000", "1.50", "1e+3", "12:30", "52:54:00:12:34:57", "+7", "7", "-6"]
    scenario = parse_scenario(BASE + f"checks:\n  - command: {{namespace: a, run: [printf, '%s', {', '.join(args)}]}}\n",
                              "t.yaml")
    assert scenario.checks[0].command.run == ["printf", "%s", *args]


def test_a_number_where_text_is_wanted_is_quoted_as_written():
    [p] = problems(BASE + "links:\n  - {namespace: a, name: d0, kind: dummy, mac: 52:54:00:12:34:56}\n")
    assert p.endswith("mac: YAML reads 52:54:00:12:34:56 as a number: quote it for text ('52:54:00:12:34:56')"), p


def test_duplicates_are_errors():
    text = BASE + textwrap.dedent("""\
      - {namespace: a, name: veth-a, peer: {namespace: b, name: other}}
    addresses:
      - {namespace: b, dev: veth-b, address: 10.0.0.2/24}
    checks:
      - ping: {from: a, to: 10.0.0.2}
    """)
    found = problems(text)
    assert any("interface 'veth-a' is declared twice in namespace 'a'" in p for p in found)
    assert any("address 10.0.0.2 is already given in namespace 'b'" in p for p in found)


def test_duplicate_yaml_key():
    [p] = problems("name: t\nnamespaces:\n  a:\n  a:\nchecks: []\n")
    assert p == "t.yaml:4: namespaces.a: 'a' is given twice; keep one"


def test_yaml_syntax_error_has_a_line():
    [p] = problems("name: t\nnamespaces: [\n")
    assert p.startswith("t.yaml:3: not valid YAML")


def test_route_needs_a_next_hop_or_dev():
    [p] = problems(BASE + "routes:\n  - {namespace: a, dst: default}\nchecks:\n  - ping: {from: a, to: 10.0.0.2}\n")
    assert "routes[0]: a unicast route needs 'via' (next hop), 'dev', 'nexthops' or 'nhid'" in p


def test_network_with_host_bits_is_rejected():
    found = problems(BASE + "routes:\n  - {namespace: a, dst: 10.0.0.1/24, dev: veth-a}\n"
                     "checks:\n  - ping: {from: a, to: 10.0.0.2}\n")
    assert any("routes[0].dst" in p and "has host bits set" in p for p in found)


def test_a_scenario_needs_a_check():
    [p] = problems(BASE)
    assert "needs at least one check" in p


def test_same_address_in_two_vrfs_of_one_namespace_is_fine():
    load_scenario(SCENARIOS / "vrf.yaml")  # 10.0.0.254/24 twice in router, once per VRF


@pytest.mark.parametrize("where", ["namespaces:\n  a:\n    sysctls: {kernel.hostname: x}\n",
                                   "namespaces: {a: }\nsteps:\n  - sysctls: {a: {vm.drop_caches: 3}}\n"])
def test_host_wide_sysctls_are_refused(where):
    found = problems("name: t\n" + where + "checks:\n  - ping: {from: a, to: 127.0.0.1}\n")
    assert any("is not a per-namespace sysctl: use a net.* key" in p for p in found), found


def test_a_scenario_file_given_twice_counts_once(tmp_path, monkeypatch):
    from harness.cli import scenario_files

    for name in ("a.yaml", "b.yml"):
        (tmp_path / name).write_text("name: x\n")
    monkeypatch.chdir(tmp_path)
    assert scenario_files(["a.yaml", ".", "./a.yaml", str(tmp_path / "b.yml")]) == [Path("a.yaml"), Path("b.yml")]


def test_sysctl_values_are_written_as_the_scenario_says():
    """12:30 and 1_000 are numbers to YAML 1.1 (750, 1000) and invalid to sysctl: it gets the text
    (and refuses it), never a number nobody wrote; true and false are 1 and 0."""
    scenario = parse_scenario("name: t\nnamespaces:\n  a: {sysctls: {net.ipv4.tcp_keepalive_time: 12:30, "
                              "net.ipv4.tcp_fin_timeout: 1_000, net.ipv4.ip_forward: yes, net.ipv4.tcp_syn_retries: 6}}\n"
                              "checks: [{route: {namespace: a, dst: default, expect: absent}}]\n",
                              "t.yaml")
    assert {k: str(v) for k, v in scenario.namespaces["a"].sysctls.items()} == {
        "net.ipv4.ip_forward": "1", "net.ipv4.tcp_keepalive_time": "12:30", "net.ipv4.tcp_fin_timeout": "1_000",
        "net.ipv4.tcp_syn_retries": "6"}
