"""Benchmark: the local scenario suite through the harness vs. the same commands in plain bash.

Both run on this machine as root, as whole processes, side by side, alternating:

- harness: ``python -m harness.cli run SCENARIOS... --target local`` (start-up, validation,
  facts, render, run, parse, judge, report);
- plain: one bash script per scenario with the same set-up, step changes, check commands (one
  after another, as a person would write them) and tear-down, with no markers and no parsing.

Target: harness median within 1.5x of plain bash.

Second measurement, ``within``: a scenario whose checks already hold, run as is and with
``within: 5`` on every check. Target: no measurable cost (ratio ~1.0).

    sudo python bench/local_vs_bash.py [SCENARIO_OR_DIR ...] [--runs N]
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

from harness.cli import load_all  # noqa: E402
from harness.facts import gather_facts, unmet_needs  # noqa: E402
from harness.render import render, script_context  # noqa: E402
from harness.targets.local import LocalTarget  # noqa: E402

TARGET_RATIO = 1.5


def plain_script(scenario) -> str:
    """The scenario's commands as a plain bash script: what a person would write by hand."""
    rendered = render(scenario)
    context = script_context(scenario, rendered.namespaces)
    # The lock keeps `harness clean` (another run's) away from these namespaces, as for a run.
    lines = [f"mkdir -p /run/netns-harness; exec 9>/run/netns-harness/{rendered.run_id}.lock",
             "H_OUT=$(mktemp -d)", *context["libs"], "set -e", rendered.setup]
    for planned in rendered.plan:
        for change in planned.changes:
            lines.append(f"( {change.chained} ) 2>/dev/null || true" if change.refusal else change.text)
        for check in planned.concurrent_checks:
            lines.append(context["checks"][check.id].command + " >/dev/null 2>&1 || true")
    lines += [rendered.teardown, f'rm -rf "$H_OUT" /run/netns-harness/{rendered.run_id}.lock']
    return "\n".join(lines) + "\n"


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def side_by_side(first, second, runs: int) -> tuple[list[float], list[float]]:
    """Time ``first`` and ``second`` alternately (same conditions for both), ``runs`` times each."""
    a, b = [], []
    first(), second()  # warm caches (templates, page cache)
    for _ in range(runs):
        for fn, times in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return a, b


def runnable(paths: list[str]) -> list:
    """The scenarios that run here (not SKIP on this machine's kernel)."""
    with LocalTarget() as target:
        facts = gather_facts(target)
        from harness.facts import needs, probe_features

        out = []
        for file, scenario in load_all(paths):
            probe_features(target, facts, needs(scenario)[1], scenario.requires.modules)
            if not unmet_needs(scenario, facts):
                out.append((file, scenario))
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(REPO / "scenarios")])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    loaded = runnable(args.paths)
    files = [str(f) for f, _ in loaded]
    with tempfile.TemporaryDirectory() as tmp:
        scripts = []
        for i, (_, scenario) in enumerate(loaded):
            path = Path(tmp) / f"{i}.sh"
            path.write_text(plain_script(scenario))
            scripts.append(str(path))

        def harness():
            done = subprocess.run([sys.executable, "-m", "harness.cli", "run", *files], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr

        def plain():
            for script in scripts:
                subprocess.run(["bash", script], check=True, capture_output=True)

        h, p = side_by_side(harness, plain, args.runs)
        ratio = median_ms(h) / median_ms(p)
        print(f"{len(files)} scenarios that run on this kernel, {args.runs} runs each, alternating")
        print(f"  harness run (whole process):  median {median_ms(h):.0f} ms  min {min(h) * 1000:.0f} ms")
        print(f"  plain bash, same commands:    median {median_ms(p):.0f} ms  min {min(p) * 1000:.0f} ms")
        print(f"  ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'NOT met'}")

        # `within` on checks that already hold: one try each, so it must cost nothing.
        base = Path(REPO / "scenarios" / "client-gateway-server.yaml").read_text()
        plain_file, within_file = Path(tmp) / "plain.yaml", Path(tmp) / "within.yaml"
        plain_file.write_text(base)
        within_file.write_text(base.replace("- ping:", "- within: 5\n        ping:").replace(
            "- route:", "- within: 5\n        route:").replace("- path:", "- within: 5\n        path:"))

        def run(path):
            return lambda: subprocess.run([sys.executable, "-m", "harness.cli", "run", str(path)], check=True,
                                          capture_output=True)

        w, n = side_by_side(run(within_file), run(plain_file), args.runs)
        print(f"  within on checks that hold: median {median_ms(w):.0f} ms vs {median_ms(n):.0f} ms without: "
              f"ratio {median_ms(w) / median_ms(n):.2f}x")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
