"""Rendering: scripts are valid bash, use per-run prefixes, and quote every scenario value."""

import subprocess
import textwrap

import pytest

from conftest import SCENARIOS
from harness.loader import load_scenario, parse_scenario
from harness.render import render, render_clean


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_rendered_scripts_are_valid_bash(path, tmp_path):
    rendered = render(load_scenario(path))
    for part in ("run", "setup", "teardown"):
        script = tmp_path / f"{part}.sh"
        script.write_text(getattr(rendered, part))
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_run_script_is_strict_and_cleans_up_on_exit():
    run = render(load_scenario(SCENARIOS / "client-gateway-server.yaml"), "abc123").run
    assert "set -Eeuo pipefail" in run and "export LC_ALL=C" in run
    assert "trap h_teardown EXIT" in run
    assert "printf 'netns del %s\\n' nhabc123-server nhabc123-gateway nhabc123-client | ip -force -batch -" in run


def test_namespaces_are_prefixed_per_run_and_veths_created_in_place():
    one = render(load_scenario(SCENARIOS / "veth-pair.yaml"))
    two = render(load_scenario(SCENARIOS / "veth-pair.yaml"))
    assert one.prefix != two.prefix
    assert f"'netns add {one.prefix}nstest  # scenario line" in one.setup  # one ip -batch adds them all
    # The veth is made in its namespace, its peer straight in the other (never in the host's).
    assert (f"'link add name veth-a type veth peer name veth-b netns {one.prefix}nstest  # scenario line"
            in one.setup)
    assert f"| ip -n {one.prefix}host -batch -" in one.setup


def test_free_text_reaches_the_shell_quoted(tmp_path):
    evil = "table inet t { }\n'; touch " + str(tmp_path / "pwned") + "; echo '$(id)`id`"
    scenario = parse_scenario(textwrap.dedent(f"""\
        name: q
        namespaces:
          a:
        firewall:
          - namespace: a
            nft: {evil!r}
        checks:
          - ping: {{from: a, to: 127.0.0.1}}
        """))
    setup = render(scenario).setup
    [line] = [l for l in setup.splitlines() if "nft -f -" in l]
    # The ruleset is one shell word on one line: bash gives it back to nft unchanged.
    printed = subprocess.run(["bash", "-c", line.split(" | ip netns exec")[0]], capture_output=True, text=True)
    assert printed.stdout == "flush ruleset\n" + evil + "\n"
    assert not (tmp_path / "pwned").exists()


def test_clean_script_matches_only_harness_names():
    assert "for path in /var/run/netns/nh$H_HEX-*; do" in render_clean()
    assert "H_HEX='[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'" in render_clean()
    assert "H_RUN=''" in render_clean() and "H_RUN=abc123" in render_clean("abc123")
    with pytest.raises(ValueError, match="not six hex digits"):
        render_clean(".*")
