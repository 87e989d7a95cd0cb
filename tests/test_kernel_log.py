"""The kernel-log section of a run (h_klog in templates/state.sh.j2): the lines stamped at or after
the run's start, cut from the real ``dmesg`` format (util-linux: ``[ seconds.micro] text``)."""

from __future__ import annotations

import subprocess

from harness.render import environment

DMESG = """\
[    0.000000] Linux version 6.1.0-57-cloud-amd64
    continuation of a boot line
[    9.500000] before the run
[   10.000000] veth: at the run's start
    a continuation line of the run
[   10.250000] IPv6: ADDRCONF(NETDEV_CHANGE): cli-veth: link becomes ready
[  100.000001] last
"""


def kernel_log(since: str, dmesg: str = DMESG, out_dir: str = "") -> list[str]:
    """The lines h_klog SINCE prints between its section markers, with ``dmesg`` printing ``dmesg``
    (read from a file in ``out_dir``, the run's H_OUT, or without one from a pipe)."""
    functions = "".join(environment().get_template(name).render(marker="@@m", ns={})
                        for name in ("lib.sh.j2", "state.sh.j2"))
    script = f"{functions}\ndmesg() {{ printf '%s' \"$H_DMESG\"; }}\nh_klog \"$1\"\n"
    out = subprocess.run(["bash", "-c", script, "klog", since], env={"H_DMESG": dmesg, "PATH": "/usr/bin:/bin", **({"H_OUT": out_dir} if out_dir else {})},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "@@m section kernel-log" and out[-1] == "@@m end-section", out
    return out[1:-1]


def test_the_kernel_log_holds_the_runs_lines_and_their_continuations(tmp_path):
    assert kernel_log("10.000000") == DMESG.splitlines()[3:]
    assert kernel_log("10.1") == DMESG.splitlines()[5:]
    assert kernel_log("10.1", out_dir=str(tmp_path)) == DMESG.splitlines()[5:]
    assert (tmp_path / "kernel.log").read_text() == DMESG   # read from a file, not byte by byte from a pipe
    # A run whose scratch directory is gone (a full disk, a killed run's tear-down) still has it.
    assert kernel_log("10.1", out_dir=str(tmp_path / "gone")) == DMESG.splitlines()[5:]


def test_the_kernel_log_of_a_run_before_every_line_holds_them_all_but_leading_unstamped_ones():
    assert kernel_log("0") == DMESG.splitlines()
    assert kernel_log("0", "  unstamped\n" + DMESG) == DMESG.splitlines()


def test_the_kernel_log_is_empty_when_nothing_came_after_the_start_or_dmesg_says_nothing():
    assert kernel_log("100.000002") == []
    assert kernel_log("1", "") == []
