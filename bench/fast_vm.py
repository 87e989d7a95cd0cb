"""Benchmark: how fast a VM gives its first verdict, measured side by side in one run.

1. A fresh VM: a cold boot (``vagrant up``, snapshots off) against a copy restored from the
   box's booted snapshot, each timed from nothing to its first command's answer, with its phases
   and the qemu process's peak memory. Target: a restored VM in under 5 s.
2. The seed demo (``scenarios/client-gateway-server.yaml``) in a restored VM against the same
   on this machine (the local target). Target: under 3x.
3. ``nox -s scenarios`` on a built box, end to end and until its first verdict, and the phase
   breakdown of the same scenarios through ``harness run --timings``. Targets: under 90 s end
   to end, first verdict under 45 s.

    sudo HARNESS_LIBVIRT_DRIVER=qemu python bench/fast_vm.py [--runs N] [--skip-nox]

Needs root, Vagrant, libvirt (``harness host-setup``) and the box builder; builds the box
when it is not cached (minutes). Prints one table; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.box import build_box  # noqa: E402
from harness.host_setup import prepare_libvirt_host  # noqa: E402
from harness.loader import load_scenario  # noqa: E402
from harness.runner import run_scenario  # noqa: E402
from harness.targets.local import LocalTarget  # noqa: E402
from harness.targets.vagrant import VagrantTarget  # noqa: E402

KERNEL = os.environ.get("HARNESS_BOX_KERNEL") or "linux-image-cloud-amd64"
SEED_DEMO = REPO / "scenarios" / "client-gateway-server.yaml"
TARGETS = {"fresh VM (restore)": 5.0, "seed demo VM/local": 3.0, "nox -s scenarios": 90.0, "first verdict": 45.0}


class QemuMemory:
    """Peak resident memory (MiB) of any one qemu process, sampled every 0.25 s from /proc."""

    def __init__(self):
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    if proc.name.isdigit() and (proc / "comm").read_text().startswith("qemu-system"):
                        rss = re.search(r"VmRSS:\s+(\d+) kB", (proc / "status").read_text())
                        self.peak_mib = max(self.peak_mib, int(rss.group(1)) / 1024 if rss else 0)
                except OSError:
                    continue
            self._stop.wait(0.25)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def fresh_vm(snapshot: bool) -> tuple[float, dict, float, str]:
    """Seconds from nothing to a VM's first answer, the target's phases, qemu's peak MiB, how it started."""
    with QemuMemory() as memory:
        start = time.monotonic()
        with VagrantTarget(box_kernel=KERNEL, destroy="always", snapshot=snapshot, progress=lambda line: None) as vm:
            vm.run("true", timeout=120)
            ready = time.monotonic() - start
            started = vm.describe()["started"]
            vm.set_outcome(passed=True)
    return ready, dict(vm.timings), memory.peak_mib, started


def median(values: list[float]) -> float:
    return statistics.median(values)


def seed_demo(runs: int) -> tuple[float, float]:
    """Median seconds of the seed demo through the harness: on this machine, and in a restored VM."""
    scenario = load_scenario(SEED_DEMO)
    local = LocalTarget()
    run_scenario(scenario, local)   # warm caches
    local_times = []
    for _ in range(runs):
        result = run_scenario(scenario, local)
        assert result.status == "PASS", result.reason
        local_times.append(result.duration_s)
    vm_times = []
    with VagrantTarget(box_kernel=KERNEL, destroy="always", progress=lambda line: None) as vm:
        for _ in range(runs):
            result = run_scenario(scenario, vm)
            assert result.status == "PASS", result.reason
            vm_times.append(result.duration_s)
        vm.set_outcome(passed=True)
    return median(local_times), median(vm_times)


def nox_scenarios() -> tuple[float, float, str]:
    """``nox -s scenarios`` on the built box: seconds end to end, seconds to the first verdict, its summary."""
    env = {**os.environ, "HARNESS_BOX_KERNEL": KERNEL}
    # nox lives beside the base interpreter (bootstrap.sh installs it there), not in a venv.
    python = shutil.which("python3", path=os.path.join(sys.base_prefix, "bin")) or "python3"
    start, first = time.monotonic(), None
    proc = subprocess.Popen([python, "-m", "nox", "-s", "scenarios"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = ""
    for line in proc.stdout:
        if first is None and re.search(r"\b(PASSED|FAILED|SKIPPED|ERROR|XFAIL)\b", line) and "::" in line:
            first = time.monotonic() - start
        if re.search(r"\d+ (passed|failed)", line):
            last = line.strip()
    proc.wait()
    return time.monotonic() - start, first or float("nan"), last or f"exit code {proc.returncode}"


def harness_timings() -> str:
    """The phase breakdown of every shipped scenario on a restored VM (``harness run --timings``)."""
    res = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(REPO / "scenarios"), "--target",
                          "vagrant", "--box-kernel", KERNEL, "--destroy", "always", "--timings"],
                         capture_output=True, text=True, cwd=REPO)
    text = res.stderr[res.stderr.find("timings (seconds):"):]
    return text.strip() + "\n" + res.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="restores and seed-demo runs to take the median of")
    parser.add_argument("--skip-nox", action="store_true", help="leave out nox -s scenarios (it installs a venv)")
    args = parser.parse_args()
    prepare_libvirt_host()
    box = build_box(kernel_package=KERNEL, progress=lambda line: None)
    machine = f"{os.cpu_count()} cores, {os.uname().release}, driver {os.environ.get('HARNESS_LIBVIRT_DRIVER') or 'kvm'}"
    print(f"fast-VM benchmark, {time.strftime('%Y-%m-%d')}, {machine}, box {box.name} ({box.kernel_release})")

    cold, cold_phases, cold_mib, _ = fresh_vm(snapshot=False)
    fresh_vm(snapshot=True)   # makes the booted snapshot when there is none yet
    # The restores below measure a snapshot at rest, as every later run finds it, not one whose
    # ~0.4 GiB the host is still writing back (that made the first restores seconds slower).
    os.sync()
    restores = [fresh_vm(snapshot=True) for _ in range(args.runs)]
    restored = median([r[0] for r in restores])
    restore_phases = {k: median([r[1].get(k, 0.0) for r in restores]) for k in restores[0][1]}
    restore_mib = max(r[2] for r in restores)
    assert all(r[3] == "snapshot restore" for r in restores), [r[3] for r in restores]
    print(f"\nfresh VM, from nothing to the first command's answer (restore: median of {args.runs}):")
    print(f"  cold boot         {cold:7.2f} s   peak qemu {cold_mib:5.0f} MiB   {phases(cold_phases)}")
    print(f"  snapshot restore  {restored:7.2f} s   peak qemu {restore_mib:5.0f} MiB   {phases(restore_phases)}")
    print(f"  ratio             {cold / restored:7.1f}x faster")

    local, in_vm = seed_demo(args.runs)
    print(f"\nseed demo (median of {args.runs}): local {local:.2f} s, restored VM {in_vm:.2f} s: "
          f"{in_vm / local:.1f}x")

    print("\n" + harness_timings())
    results = {"fresh VM (restore)": restored, "seed demo VM/local": in_vm / local}
    if not args.skip_nox:
        total, first, summary = nox_scenarios()
        print(f"\nnox -s scenarios on the built box: {total:.1f} s end to end, first verdict after {first:.1f} s "
              f"({summary})")
        results.update({"nox -s scenarios": total, "first verdict": first})

    print("\ntarget                 measured    target   ")
    missed = 0
    for name, value in results.items():
        ok = value <= TARGETS[name]
        missed += not ok
        unit = "x" if "local" in name else " s"
        print(f"  {name:<20} {value:8.2f}{unit:<2} <= {TARGETS[name]:5.1f}{unit:<2} {'met' if ok else 'NOT met'}")
    return 1 if missed else 0


def phases(timings: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items())


if __name__ == "__main__":
    sys.exit(main())
