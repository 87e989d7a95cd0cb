"""Benchmark: what address space randomization costs a scenario in a TCG VM, side by side in one VM.

qemu's TCG keeps the code it translated by virtual address, so with randomized mappings every new
process translates ld.so and its libraries again. The box boots with ``norandmaps``; this turns
randomization back on and off (``kernel.randomize_va_space`` 2 / 0) in one restored VM and runs
the seed demo (``scenarios/client-gateway-server.yaml``) and one ``ip netns exec NS ping -c1``
loop under each, alternating.

    sudo HARNESS_LIBVIRT_DRIVER=qemu python bench/aslr_vm.py [--runs N]

Needs root, Vagrant, libvirt (``harness host-setup``) and the built box. Prints one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.loader import load_scenario  # noqa: E402
from harness.runner import run_scenario  # noqa: E402
from harness.targets.vagrant import VagrantTarget  # noqa: E402

KERNEL = os.environ.get("HARNESS_BOX_KERNEL") or "linux-image-cloud-amd64"
SEED_DEMO = REPO / "scenarios" / "client-gateway-server.yaml"
# Ten pings from a namespace, each a new process: ms per `ip netns exec NS ping -c1`.
PING_LOOP = """set -e
ip netns add nhbe0001-a; ip -n nhbe0001-a link set lo up
s=$EPOCHREALTIME
for i in 1 2 3 4 5 6 7 8 9 10; do ip netns exec nhbe0001-a ping -n -c1 127.0.0.1 >/dev/null; done
e=$EPOCHREALTIME
ip netns del nhbe0001-a
echo $(( (${e/./} - ${s/./}) / 10000 ))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind to take the median of")
    args = parser.parse_args()
    scenario = load_scenario(SEED_DEMO)
    seed: dict[int, list[float]] = {2: [], 0: []}
    ping: dict[int, list[float]] = {2: [], 0: []}
    with VagrantTarget(box_kernel=KERNEL, destroy="always", progress=lambda line: None) as vm:
        run_scenario(scenario, vm)   # warm the VM's caches
        for _ in range(args.runs):
            for randomize in (2, 0):
                vm.run(f"sysctl -qw kernel.randomize_va_space={randomize}", timeout=60)
                result = run_scenario(scenario, vm)
                assert result.status == "PASS", result.reason
                seed[randomize].append(result.duration_s)
                ping[randomize].append(float(vm.run(PING_LOOP, timeout=120).stdout.split()[-1]))
        vm.set_outcome(passed=True)
    med = statistics.median
    print(f"ASLR in a TCG VM, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, box kernel {KERNEL}, "
          f"median of {args.runs}, alternating:")
    print(f"  seed demo                       ASLR on {med(seed[2]):6.2f} s   off {med(seed[0]):6.2f} s   "
          f"{med(seed[2]) / med(seed[0]):.2f}x")
    print(f"  ip netns exec NS ping -c1       ASLR on {med(ping[2]):6.0f} ms  off {med(ping[0]):6.0f} ms  "
          f"{med(ping[2]) / med(ping[0]):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
