"""The pytest plugin's options: each ``--harness-X`` has the ini setting ``harness_X``.

The command line wins over the ini file (``pytest.ini``, ``[tool.pytest.ini_options]`` in
``pyproject.toml``, ``tox.ini``, ``setup.cfg``). Every name is prefixed, so the plugin can
share a venv with pytest-embedded, pytest-testinfra and other plugins that have ``--target``.
"""

from __future__ import annotations

import pytest

from harness.bundle import DEFAULT_BUNDLE_DIR

DEFAULT_GLOBS = ["scenarios/*.yaml", "scenarios/*.yml"]
DEFAULT_MATRIX_REPORT = "results/matrix.md"

# (option, ini name, help, kind): kind "str", "bool" or "choice:a,b,c".
OPTIONS = [
    ("--harness-target", "harness_target",
     "where scenarios run: local (default), vagrant, ssh://user@host[:port]", "str"),
    ("--harness-box", "harness_box", "vagrant: the box to boot (default $HARNESS_BOX or debian/bookworm64)", "str"),
    ("--harness-box-kernel", "harness_box_kernel",
     "vagrant: build (or reuse) a local libvirt box with this Debian kernel package", "str"),
    ("--harness-destroy", "harness_destroy",
     "vagrant: when to destroy the VM: always, passing (default: keep it when a check failed), never",
     "choice:always,passing,never"),
    ("--harness-reuse", "harness_reuse", "vagrant: run on the VM of the box that is kept (harness status)", "bool"),
    ("--harness-vm", "harness_vm", "vagrant, with --harness-reuse: which kept VM, when the box has several", "str"),
    ("--harness-isolate", "harness_isolate",
     "vagrant: one VM for the whole session (run, default), or a fresh copy of the booted snapshot for "
     "every scenario (scenario)", "choice:run,scenario"),
    ("--harness-identity", "harness_identity", "ssh: private key file", "str"),
    ("--harness-known-hosts", "harness_known_hosts", "ssh: known_hosts file (default ~/.ssh/known_hosts)", "str"),
    ("--harness-json", "harness_json",
     "write every scenario's results and the session's timings (box, restore or boot, ssh, facts, destroy, "
     "first verdict: seconds) as JSON to this file", "str"),
    ("--harness-report", "harness_report",
     "keep namespace state after every step and write a bug-report bundle for every scenario", "bool"),
    ("--harness-bundle-dir", "harness_bundle_dir",
     f"where bug-report bundles of failing scenarios go (default {DEFAULT_BUNDLE_DIR})", "str"),
    ("--harness-kernels", "harness_kernels",
     "kernel matrix: run every scenario in one VM per kernel, KERNEL[,KERNEL...]: ids from harness/kernels.py "
     "(kernel-5.10, kernel-6.1, kernel-6.12, kernel-sid), kernel specs (PKG[/RELEASE][@SUITE]) or kernel .deb files; "
     "add -n N to run the VMs in parallel", "str"),
    ("--harness-shard", "harness_shard",
     "kernel matrix: run part K of N (K/N, e.g. 1/4): the scenario x kernel cells in kernel order, cut into N "
     "runs of about the same number of cells; `harness matrix merge` joins the parts' results", "str"),
    ("--harness-matrix-report", "harness_matrix_report",
     f"kernel matrix: the Markdown report (default {DEFAULT_MATRIX_REPORT}), each kernel's results "
     "as <kernel-id>.json next to it", "str"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netns-harness", "netns-harness scenarios (each option is also an ini setting: "
                                             "--harness-target -> harness_target)")
    for flag, name, text, kind in OPTIONS:
        if kind == "bool":
            group.addoption(flag, dest=name, action="store_true", default=None, help=text)
            parser.addini(name, text, type="bool", default=False)
        else:
            choices = kind.split(":", 1)[1].split(",") if kind.startswith("choice:") else None
            group.addoption(flag, dest=name, default=None, choices=choices, help=text)
            parser.addini(name, text, default="")
    parser.addini("harness_scenarios",
                  "globs of scenario files, matched against the end of a path "
                  f"(default: {' '.join(DEFAULT_GLOBS)}); files named on the command line are always collected",
                  type="args", default=DEFAULT_GLOBS)
