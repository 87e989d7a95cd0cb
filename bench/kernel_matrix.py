"""Benchmark: the kernel matrix on this machine, side by side in one run.

1. Each kernel's box built (``harness box build --kernel SPEC``), timed one by one.
2. ``nox -s matrix`` on built boxes with no booted snapshot yet (every kernel boots once and
   saves its snapshot), then again (every kernel restores a copy): wall time, and the peak of
   the summed resident memory of the matrix's qemu processes (sampled every 0.5 s from /proc;
   other VMs on the machine are not counted).
3. With ``--parts N``: the same matrix as N parts (``--harness-shard K/N``), each its own
   ``nox -s matrix`` process, one after the other, joined by ``harness matrix merge``; the
   merged matrix must be the unsharded one's (cells, notes and kernel facts).

    sudo HARNESS_LIBVIRT_DRIVER=qemu HARNESS_BOX_PREFIX=netns-harness-bench python bench/kernel_matrix.py --parts 2

(with nox installed in the Python that runs it).

A prefix of its own keeps the benchmark's boxes, VMs and snapshots apart from other runs on the
machine. Needs root, Vagrant, libvirt and the Debian mirror. Prints one table; exits 1 when
the merged matrix differs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.box import box_prefix  # noqa: E402
from harness.kernels import KERNELS  # noqa: E402


class MatrixMemory:
    """Peak of the summed RSS (MiB) of the qemu processes whose guest name starts with ``prefix``."""

    def __init__(self, prefix: str):
        self.marker = f"guest={prefix}-".encode()
        self.peak_mib, self.peak_vms = 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            total, vms = 0.0, 0
            for proc in Path("/proc").iterdir():
                try:
                    if proc.name.isdigit() and (proc / "comm").read_text().startswith("qemu-system") \
                            and self.marker in (proc / "cmdline").read_bytes():
                        rss = re.search(r"VmRSS:\s+(\d+) kB", (proc / "status").read_text())
                        total, vms = total + (int(rss.group(1)) / 1024 if rss else 0), vms + 1
                except OSError:
                    continue
            self.peak_mib, self.peak_vms = max(self.peak_mib, total), max(self.peak_vms, vms)
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run(argv: list[str], log: Path) -> tuple[float, int]:
    started = time.monotonic()
    with open(log, "w") as out:
        code = subprocess.run(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT).returncode
    return time.monotonic() - started, code


def matrix(label: str, results: Path, extra: list[str], logs: Path) -> tuple[float, float, int, int]:
    """One ``nox -s matrix`` run: seconds, peak MiB of the matrix's VMs, most VMs at once, exit code."""
    args = [sys.executable, "-m", "nox", "-s", "matrix", "--", "--harness-matrix-report", str(results / "matrix.md"),
            "--junitxml", str(results / "matrix.xml"), "--harness-destroy", "always", *extra]
    with MatrixMemory(box_prefix()) as memory:
        seconds, code = run(args, logs / f"{label}.log")
    return seconds, memory.peak_mib, memory.peak_vms, code


def table_and_notes(path: Path) -> str:
    return path.read_text().split("\n| scenario |", 1)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=0, help="also run the matrix as N parts and merge them")
    parser.add_argument("--out", default="results/bench-kernel-matrix", help="where logs and results go")
    args = parser.parse_args()
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    load = os.getloadavg()[0]

    for kid, spec in KERNELS.items():
        seconds, code = run([sys.executable, "-m", "harness.cli", "box", "build", "--kernel", spec],
                            out / f"box-{kid}.log")
        built = "cache hit" not in (out / f"box-{kid}.log").read_text()
        rows.append((f"box {kid} ({'built' if built else 'cached'})", f"{seconds:7.1f} s", "exit %d" % code))

    cold = matrix("matrix-first", out / "first", [], out)
    rows.append(("nox -s matrix, boots and snapshots", f"{cold[0]:7.1f} s",
                 f"peak {cold[1]:5.0f} MiB in {cold[2]} VMs, exit {cold[3]}"))
    warm = matrix("matrix-again", out / "again", [], out)
    rows.append(("nox -s matrix, restored copies", f"{warm[0]:7.1f} s",
                 f"peak {warm[1]:5.0f} MiB in {warm[2]} VMs, exit {warm[3]}"))

    same = True
    if args.parts:
        files = []
        for part in range(1, args.parts + 1):
            where = out / f"part-{part}"
            seconds, mib, vms, code = matrix(f"part-{part}", where, ["--harness-shard", f"{part}/{args.parts}"], out)
            rows.append((f"part {part}/{args.parts}", f"{seconds:7.1f} s", f"peak {mib:5.0f} MiB in {vms} VMs, exit {code}"))
            files += sorted(where.glob("*.shard-*.json"))
        merged = out / "merged"
        code = subprocess.run([sys.executable, "-m", "harness.cli", "matrix", "merge", *map(str, files),
                               "--report", str(merged / "matrix.md"), "--junit", str(merged / "matrix.xml")],
                              cwd=REPO, capture_output=True, text=True).returncode
        same = (merged / "matrix.md").exists() and (out / "again" / "matrix.md").exists() and \
            table_and_notes(merged / "matrix.md") == table_and_notes(out / "again" / "matrix.md")
        rows.append((f"merged {len(files)} files", "", f"exit {code}, {'same matrix' if same else 'DIFFERENT matrix'}"))

    print(f"kernel matrix benchmark ({len(KERNELS)} kernels, prefix {box_prefix()}, load average {load:.1f} at start)")
    for label, seconds, rest in rows:
        print(f"  {label:<40} {seconds:>10}   {rest}")
    print(f"details: {out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
