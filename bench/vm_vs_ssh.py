"""Benchmark: a scenario on a warm VM through the harness vs. one plain ``ssh`` call.

The plain side sends the same rendered script to ``sudo -n bash -s`` with the OpenSSH
client, one connection per run (what a person would do by hand). The harness side is
``run_scenario`` on the vagrant target after the VM is up: one reused paramiko connection,
then parsing and judging. Target: harness median within 1.2x of plain ssh.

    sudo HARNESS_LIBVIRT_DRIVER=qemu python bench/vm_vs_ssh.py [SCENARIO] [--box-kernel PKG] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.facts import gather_facts  # noqa: E402
from harness.loader import load_scenario  # noqa: E402
from harness.render import render  # noqa: E402
from harness.runner import run_scenario  # noqa: E402
from harness.targets.vagrant import VagrantTarget  # noqa: E402

TARGET_RATIO = 1.2


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(REPO / "scenarios" / "veth-pair.yaml"))
    parser.add_argument("--box-kernel", default="linux-image-cloud-amd64")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)

    with VagrantTarget(box_kernel=args.box_kernel, destroy="always") as target:
        gather_facts(target)  # boots the VM and opens the connection: the VM is warm from here
        conn = target._conn
        ssh = ["ssh", "-p", str(conn["port"]), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]
        for key in conn["identity"]:
            ssh += ["-i", key]
        ssh += [f"{conn['user']}@{conn['host']}", "sudo -n bash -s"]

        harness_times, plain_times = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = run_scenario(scenario, target)
            harness_times.append(time.perf_counter() - start)
            assert result.status == "PASS", result.reason

            script = render(scenario).run
            start = time.perf_counter()
            subprocess.run(ssh, input=script, capture_output=True, text=True, check=True)
            plain_times.append(time.perf_counter() - start)

    h, p = median_ms(harness_times), median_ms(plain_times)
    print(f"scenario {scenario.name} on {target.box}, {args.runs} runs each, VM warm")
    print(f"  harness (render+run+parse+judge, one reused connection): median {h:.1f} ms")
    print(f"  plain ssh, same rendered script, one call:                median {p:.1f} ms")
    ratio = h / p
    print(f"  ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
