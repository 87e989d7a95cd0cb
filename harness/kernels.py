"""The kernels of the kernel matrix: short ids for Debian kernel packages.

Adding a kernel to the matrix is one line in ``KERNELS``: an id (also the nox session
``kernel(ID)``, the matrix column and the ``results/ID.json`` file name) and the Debian
kernel package the box is built with (``harness box build --kernel PKG``).

This module imports nothing from the harness (the noxfile reads it by path).
"""

from __future__ import annotations

import re

KERNELS: dict[str, str] = {
    "kernel-6.1": "linux-image-cloud-amd64",
    "kernel-6.12": "linux-image-cloud-amd64/bookworm-backports",
}


def kernel_id(package: str) -> str:
    """The id of a package: its ``KERNELS`` id, else a name made from the package.

    ``linux-image-cloud-amd64/bookworm-backports`` -> ``kernel-6.12``;
    ``linux-image-6.1.0-28-cloud-amd64`` -> ``linux-image-6.1.0-28-cloud-amd64``.
    """
    for kid, pkg in KERNELS.items():
        if pkg == package:
            return kid
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", package).strip("-")


def resolve_kernel(spec: str) -> tuple[str, str]:
    """``(id, package)`` for an id from ``KERNELS`` or a Debian kernel package name.

    Raises ``ValueError`` for an empty spec, or a ``kernel-...`` id that is not in ``KERNELS``.
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("empty kernel: give an id (" + ", ".join(KERNELS) + ") or a Debian kernel package")
    if spec in KERNELS:
        return spec, KERNELS[spec]
    if spec.startswith("kernel-"):
        raise ValueError(f"unknown kernel id {spec!r}: known ids are {', '.join(KERNELS)} "
                         "(add one to KERNELS in harness/kernels.py), or give a Debian kernel package")
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
