"""Where a run's time went, on this machine: ``--timings`` and the results file's ``timings``."""

import json
import subprocess
import sys

from conftest import SCENARIOS, needs_root

pytestmark = needs_root


def harness(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120)


def test_timings_on_the_terminal_and_in_the_results_file(tmp_path, no_leftovers):
    out = tmp_path / "results.json"
    run = harness("run", str(SCENARIOS / "veth-pair.yaml"), str(SCENARIOS / "loopback.yaml"), "--timings",
                  "--json", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert set(result["timings"]) == {"facts", "first_verdict"}   # the local target has nothing to start
    scenarios = result["scenarios"]
    assert [s["timings"]["total"] for s in scenarios] == [s["duration_s"] for s in scenarios]
    assert 0 < result["timings"]["first_verdict"] < 60
    text = run.stderr[run.stderr.index("timings (seconds):"):]
    assert "facts" in text and "veth-pair" in text and "loopback" in text and "first verdict after" in text


def test_isolate_scenario_needs_a_vm_target():
    run = harness("run", str(SCENARIOS / "veth-pair.yaml"), "--isolate", "scenario")
    assert run.returncode == 2
    assert "--isolate scenario needs a VM target (--target vagrant), not local" in run.stderr


def test_isolate_scenario_and_reuse_are_refused_together_before_anything_starts():
    run = harness("run", str(SCENARIOS / "veth-pair.yaml"), "--target", "vagrant", "--reuse", "--isolate", "scenario")
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith("harness: --isolate scenario gives every scenario a fresh VM and --reuse") and \
        len(run.stderr.splitlines()) == 1, run.stderr
