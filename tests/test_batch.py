"""ip commands of a phase folded into ip -batch runs: what joins a batch, in what order, and a
failing batch command named by its scenario line."""

import subprocess


from conftest import needs_root
from harness.batch import batch_source, batched
from harness.loader import parse_scenario
from harness.runner import run_scenario
from harness.targets.local import LocalTarget

PHASE = """\
ip netns add nh000001-a  # scenario line 2: namespaces.a
ip -n nh000001-a link set lo up  # scenario line 2: namespaces.a
ip netns add nh000001-b  # scenario line 3: namespaces.b
ip -n nh000001-b link set lo up  # scenario line 3: namespaces.b
ip -n nh000001-a -4 addr add 10.0.0.1/24 dev a0  # scenario line 5: addresses[0]
ip -n nh000001-a -4 addr add 10.0.1.1/24 dev a0  # scenario line 6: addresses[1]
ip -n nh000001-a -6 addr add fd00::1/64 dev a0 nodad  # scenario line 7: addresses[2]
printf 'flush ruleset\\n%s\\n' 'table inet t { }' | ip netns exec nh000001-a nft -f -  # scenario line 9: firewall[0]
ip -n nh000001-b link set dev 'odd name' up  # scenario line 11: links[0]
"""


def test_commands_of_a_namespace_and_family_share_one_batch_in_first_appearance_order():
    out = batched(PHASE).splitlines()
    assert out[:4] == ["printf '%s\\n' \\", "  'netns add nh000001-a  # scenario line 2: namespaces.a' \\",
                       "  'netns add nh000001-b  # scenario line 3: namespaces.b' \\", "  | ip -batch -"]
    # A group of one stays a plain command; a quoted word or a pipeline never joins a batch.
    assert out[4] == "ip -n nh000001-a link set lo up  # scenario line 2: namespaces.a"
    assert out[5] == "ip -n nh000001-b link set lo up  # scenario line 3: namespaces.b"
    assert out[6:10] == ["printf '%s\\n' \\", "  'addr add 10.0.0.1/24 dev a0  # scenario line 5: addresses[0]' \\",
                         "  'addr add 10.0.1.1/24 dev a0  # scenario line 6: addresses[1]' \\",
                         "  | ip -n nh000001-a -4 -batch -"]
    assert out[10] == "ip -n nh000001-a -6 addr add fd00::1/64 dev a0 nodad  # scenario line 7: addresses[2]"
    assert out[11].startswith("printf 'flush ruleset") and out[12].endswith("'odd name' up  # scenario line 11: links[0]")
    assert len(out) == 13


SETUP = """\
ip netns add nh000001-a  # scenario line 2: namespaces.a
ip netns add nh000001-b  # scenario line 3: namespaces.b
ip netns exec nh000001-a sysctl -qw net.ipv4.ip_forward=1  # scenario line 2: namespaces.a
ip -n nh000001-a link add name a0 type veth peer name b0 netns nh000001-b  # scenario line 5: veths[0]
ip -n nh000001-a link set lo up  # scenario line 2: namespaces.a
ip -n nh000001-b link set lo up  # scenario line 3: namespaces.b
ip -n nh000001-a link set dev a0 up  # scenario line 5: veths[0]
ip -n nh000001-b link set dev b0 up  # scenario line 5: veths[0]
ip -n nh000001-a link set dev 'odd name' up  # scenario line 7: links[0]
ip -n nh000001-a addr add 10.0.0.1/24 dev a0  # scenario line 5: veths[0].addresses[0]
ip -n nh000001-b addr add 10.0.0.2/24 dev b0  # scenario line 5: veths[0].peer.addresses[0]
modprobe dummy
ip -n nh000001-b -4 route add default via 10.0.0.1  # scenario line 9: routes[0]
ip -n nh000001-b link set dev b0 mtu 1400  # scenario line 10: links[1]
"""


def test_phases_fold_into_a_batch_per_namespace_where_nothing_between_names_it():
    out = [line.split("  #")[0] for line in batched(SETUP).splitlines()]
    assert out == [
        # netns exec joins the namespaces' batch: nothing between names a.
        "printf '%s\\n' \\", "  'netns add nh000001-a", "  'netns add nh000001-b",
        "  'netns exec nh000001-a sysctl -qw net.ipv4.ip_forward=1", "  | ip -batch -",
        # a's veth puts b0 in b: b's commands stay after it, a's own join it until 'odd name' (a line
        # of its own that names a) would be passed.
        "printf '%s\\n' \\", "  'link add name a0 type veth peer name b0 netns nh000001-b",
        "  'link set lo up", "  'link set dev a0 up", "  | ip -n nh000001-a -batch -",
        "printf '%s\\n' \\", "  'link set lo up", "  'link set dev b0 up", "  'addr add 10.0.0.2/24 dev b0",
        "  | ip -n nh000001-b -batch -",
        "ip -n nh000001-a link set dev 'odd name' up",
        "ip -n nh000001-a addr add 10.0.0.1/24 dev a0",
        # A line that names no namespace is passed by nothing.
        "modprobe dummy",
        "ip -n nh000001-b -4 route add default via 10.0.0.1",
        "ip -n nh000001-b link set dev b0 mtu 1400",
    ]


def test_a_deletion_moves_past_nothing_and_nothing_moves_past_it():
    # Deleting b's veth end takes a's end too, though the command names only b.
    step = """\
ip -n nh000001-a addr del 10.8.0.1/24 dev d9  # scenario line 12: delete_addresses[0]
ip -n nh000001-b link del dev v1  # scenario line 14: delete_links[0]
ip -n nh000001-a link add name v0 type bridge  # scenario line 16: links[0]
ip -n nh000001-b link del dev v2  # scenario line 17: delete_links[1]
ip -n nh000001-a link del dev 'odd name'  # scenario line 18: delete_links[2]
ip -n nh000001-b link add name v1 type bridge  # scenario line 19: links[1]
"""
    out = [line.split("  #")[0] for line in batched(step).splitlines()]
    assert out == ["ip -n nh000001-a addr del 10.8.0.1/24 dev d9", "ip -n nh000001-b link del dev v1",
                   "ip -n nh000001-a link add name v0 type bridge", "ip -n nh000001-b link del dev v2",
                   # A deletion that cannot join a batch (a quoted name) is a barrier all the same.
                   "ip -n nh000001-a link del dev 'odd name'", "ip -n nh000001-b link add name v1 type bridge"]


@needs_root
def test_a_link_made_where_a_deleted_veths_other_end_was_is_made_after_it(no_leftovers):
    scenario = parse_scenario("""\
name: peer-deleted
namespaces: {a: , b: }
links: [{namespace: a, name: br9, kind: bridge, up: true, addresses: [10.8.0.1/24]}]
veths: [{namespace: a, name: v0, addresses: [10.9.0.1/24], peer: {namespace: b, name: v1}}]
steps:
  - delete_addresses: [{namespace: a, dev: br9, address: 10.8.0.1/24}]
    delete_links: [{namespace: b, name: v1}]
    links: [{namespace: a, name: v0, kind: bridge, up: true}]
    checks: [{link: {namespace: a, name: v0, kind: bridge}}]
""", "peer-deleted.yaml")
    with LocalTarget() as target:
        result = run_scenario(scenario, target)
    assert result.status == "PASS", result.reason


def test_a_failing_batch_command_is_found_in_the_script():
    script = "set -e\n" + batched(PHASE)
    # The batch of two addresses ends on script line 11; its second command is on line 10.
    assert batch_source(script, 11, 2) == "  'addr add 10.0.1.1/24 dev a0  # scenario line 6: addresses[1]' \\"
    assert batch_source(script, 11, 3) is None  # the batch has two commands
    assert batch_source(script, 6, 1) is None  # not the end of a batch


@needs_root
def test_a_failing_command_inside_a_batch_is_reported_with_its_scenario_line(no_leftovers):
    scenario = parse_scenario("""\
name: batch-failure
namespaces: {a: }
veths: [{namespace: a, name: v0, addresses: [10.9.0.1/24], peer: {namespace: a, name: v1}}]
routes:
  - {namespace: a, dst: 10.6.0.0/24, via: 10.9.0.2}
  - {namespace: a, dst: 10.8.0.0/24, via: 10.7.0.1}
  - {namespace: a, dst: 10.5.0.0/24, via: 10.9.0.3}
checks: [{ping: {from: a, to: 10.9.0.1}}]
""", "batch.yaml")
    with LocalTarget() as target:
        result = run_scenario(scenario, target)
    assert result.status == "ERROR"
    assert "Nexthop has invalid gateway" in result.reason
    assert "[scenario line 6: routes[1]: route add 10.8.0.0/24 via 10.7.0.1]" in result.reason, result.reason


def test_the_batch_script_runs_in_bash():
    script = batched(PHASE.replace("ip ", "echo ip ").replace("| ip", "| cat"))
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0
