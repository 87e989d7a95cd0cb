"""Benchmark: a scenario through the harness vs. the same commands in a plain bash script.

Both run on this machine as root. The harness side is timed in-process (interpreter
start-up excluded): render, run, parse, judge. The plain side is the scenario's own
set-up, step changes, check commands (one after another) and tear-down, with no
markers and no parsing. Target: harness median within 1.5x of plain bash.

    sudo python bench/local_vs_bash.py [SCENARIO] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.loader import load_scenario  # noqa: E402
from harness.render import environment, render  # noqa: E402
from harness.runner import run_scenario  # noqa: E402
from harness.targets.local import LocalTarget  # noqa: E402

TARGET_RATIO = 1.5


def plain_script(scenario) -> str:
    """The scenario's commands as a plain bash script: what a person would write by hand."""
    rendered = render(scenario)
    env = environment()
    lines = ["set -e", rendered.setup]
    for planned in rendered.plan:
        lines.append(env.get_template("step.sh.j2").render(ns=rendered.namespaces, step=planned.step))
        for _, check in planned.checks:
            lines.append(env.get_template("check.sh.j2").render(ns=rendered.namespaces, check=check).strip() + " || true")
    lines.append(rendered.teardown)
    return "\n".join(lines) + "\n"


def time_it(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(REPO / "scenarios" / "veth-pair.yaml"))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    target = LocalTarget()

    def through_harness():
        result = run_scenario(scenario, target)
        assert result.status == "PASS", result.reason

    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(plain_script(scenario))
    plain = lambda: subprocess.run(["bash", f.name], check=True, capture_output=True)  # noqa: E731

    through_harness(), plain()  # warm caches (templates, page cache)
    harness_times, plain_times = time_it(through_harness, args.runs), time_it(plain, args.runs)
    h, p = statistics.median(harness_times), statistics.median(plain_times)
    ratio = h / p
    print(f"scenario {scenario.name}, {args.runs} runs each")
    print(f"  harness (render+run+parse+judge): median {h * 1000:.1f} ms  min {min(harness_times) * 1000:.1f} ms")
    print(f"  plain bash, same commands:        median {p * 1000:.1f} ms  min {min(plain_times) * 1000:.1f} ms")
    print(f"  ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    Path(f.name).unlink()
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
