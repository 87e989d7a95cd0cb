"""The kernels of the kernel matrix: short ids for kernel specs.

Adding a kernel to the matrix is one line in ``KERNELS``: an id (also the nox session
``kernel(ID)``, the matrix column and the ``results/ID.json`` file name) and the kernel spec
its box is built with (``harness box build --kernel SPEC``): ``PKG[/RELEASE][@SUITE]``, a Debian
kernel package (from RELEASE) on the userspace of SUITE, or the path of a kernel ``.deb``.

The default lines run from the oldest Debian kernel still supported (5.10, bullseye LTS) to
the newest the archive serves (sid), each on the userspace of the suite it ships with, so
the matrix also covers iproute2 5.10 to 7.x and iputils 20210202 to 20250605.

This module imports nothing from the harness (the noxfile reads it by path).
"""

from __future__ import annotations

import os
import re

KERNELS: dict[str, str] = {
    "kernel-5.10": "linux-image-cloud-amd64@bullseye",
    "kernel-6.1": "linux-image-cloud-amd64@bookworm",
    "kernel-6.12": "linux-image-cloud-amd64@trixie",
    "kernel-sid": "linux-image-cloud-amd64@sid",
}


def kernel_id(package: str) -> str:
    """The id of a kernel spec: its ``KERNELS`` id, else a name made from the spec.

    ``linux-image-cloud-amd64@trixie`` -> ``kernel-6.12``;
    ``linux-image-6.1.0-28-cloud-amd64`` -> ``linux-image-6.1.0-28-cloud-amd64``;
    ``linux-image-cloud-amd64/bookworm-backports`` -> ``linux-image-cloud-amd64-bookworm-backports``;
    ``/tmp/linux-image-6.1.0-28-cloud-amd64_6.1.176-1_amd64.deb@trixie`` ->
    ``linux-image-6.1.0-28-cloud-amd64_6.1.176-1_amd64-trixie`` (a .deb by its file name).
    """
    for kid, pkg in KERNELS.items():
        if pkg == package:
            return kid
    head, at, suite = package.rpartition("@") if "@" in package else (package, "", "")
    if head.endswith(".deb"):
        package = os.path.basename(head)[:-len(".deb")] + (f"-{suite}" if at else "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", package).strip("-")


def resolve_kernel(spec: str) -> tuple[str, str]:
    """``(id, spec)`` for an id from ``KERNELS``, a Debian kernel package spec or a kernel ``.deb``
    (made absolute).

    Raises ``ValueError`` for an empty spec, a ``kernel-...`` id that is not in ``KERNELS``, or a
    ``.deb`` that does not exist.
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("empty kernel: give an id (" + ", ".join(KERNELS) + ") or a Debian kernel package")
    if spec in KERNELS:
        return spec, KERNELS[spec]
    if spec.startswith("kernel-"):
        raise ValueError(f"unknown kernel id {spec!r}: known ids are {', '.join(KERNELS)} "
                         "(add one to KERNELS in harness/kernels.py), or give a Debian kernel package")
    head, at, suite = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if head.endswith(".deb"):  # a local kernel package: the same file from any working directory
        if not os.path.isfile(head):
            raise ValueError(f"kernel package {head}: no such file")
        spec = os.path.abspath(head) + at + suite
    return kernel_id(spec), spec


def parse_kernels(text: str) -> list[tuple[str, str]]:
    """Parse ``--kernels`` (comma-separated ids or packages) into ``[(id, package), ...]``.

    Duplicates (the same id twice, or an id and its package) are dropped. Raises ``ValueError``.
    """
    kernels: list[tuple[str, str]] = []
    for spec in text.split(","):
        if not spec.strip():
            continue
        kid, package = resolve_kernel(spec)
        if kid not in [k for k, _ in kernels]:
            kernels.append((kid, package))
    if not kernels:
        raise ValueError("--kernels needs at least one kernel: " + ", ".join(KERNELS))
    return kernels
