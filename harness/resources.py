"""Where the harness's own files are, and which build of the harness this is.

The repository's top-level ``templates/``, ``Vagrantfile`` and example scenario are the
sources. A wheel carries copies inside the package (``harness/templates``,
``harness/vagrant/Vagrantfile``, ``harness/examples``; see ``pyproject.toml``); a checkout
(or an editable install of one) uses the repository's own files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Optional

PACKAGE = Path(__file__).resolve().parent
EXAMPLE_SCENARIO = "client-gateway-server.yaml"


def checkout() -> Optional[Path]:
    """The harness's own source checkout this package runs from, or None (an installed wheel).

    A checkout is the package's parent folder holding the project's ``pyproject.toml`` and
    ``templates/``; a ``site-packages`` that happens to sit in some git repository is not one.
    """
    root = PACKAGE.parent
    pyproject = root / "pyproject.toml"
    if not (root / "templates").is_dir() or not pyproject.is_file():
        return None
    if 'name = "netns-harness"' not in pyproject.read_text(encoding="utf-8", errors="replace"):
        return None
    return root


def _packaged_or_checkout(packaged: Path, in_checkout: str) -> Path:
    if packaged.exists():
        return packaged
    root = checkout()
    if root is not None and (root / in_checkout).exists():
        return root / in_checkout
    raise FileNotFoundError(f"netns-harness is installed without its {in_checkout} "
                            f"(looked in {packaged}): reinstall it from a wheel or a checkout")


def templates_dir() -> Path:
    """The Jinja2 templates: ``$HARNESS_TEMPLATES``, the package's copy, or the checkout's ``templates/``.

    Raises ``FileNotFoundError`` when neither exists (a broken install).
    """
    if os.environ.get("HARNESS_TEMPLATES"):
        return Path(os.environ["HARNESS_TEMPLATES"])
    return _packaged_or_checkout(PACKAGE / "templates", "templates")


def example_scenario() -> Path:
    """The scenario ``harness init`` copies into a new project (the README's demo)."""
    return _packaged_or_checkout(PACKAGE / "examples" / EXAMPLE_SCENARIO, f"scenarios/{EXAMPLE_SCENARIO}")


def default_vagrantfile() -> Path:
    """The Vagrantfile the harness ships (the checkout's top-level one in a checkout)."""
    return _packaged_or_checkout(PACKAGE / "vagrant" / "Vagrantfile", "Vagrantfile")


def state_dir() -> Path:
    """Per-user state: ``$XDG_STATE_HOME/netns-harness`` (default ``~/.local/state/netns-harness``)."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "netns-harness"


def vagrant_dir() -> Path:
    """The folder ``vagrant`` runs in (its Vagrantfile and ``.vagrant`` machine folders).

    The current directory when it has a ``Vagrantfile`` (a project's own wins); else the
    harness checkout; else ``state_dir()/vagrant``, holding a copy of the packaged
    Vagrantfile (kept up to date), so machine state never lands in ``site-packages``.
    """
    cwd = Path.cwd()
    if (cwd / "Vagrantfile").is_file():
        return cwd
    root = checkout()
    if root is not None and (root / "Vagrantfile").is_file():
        return root
    source = default_vagrantfile()
    folder = state_dir() / "vagrant"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "Vagrantfile"
    if not copy.is_file() or copy.read_bytes() != source.read_bytes():
        shutil.copyfile(source, copy)
    return folder


@lru_cache(maxsize=None)
def harness_commit() -> Optional[str]:
    """The git commit of this harness: from the build (``harness/_build.json``) or its own checkout.

    ``None`` when unknown; a commit with uncommitted changes ends in ``-dirty``. Never the
    commit of another repository the installation happens to sit in.
    """
    build = PACKAGE / "_build.json"
    if build.is_file():
        try:
            info = json.loads(build.read_text(encoding="utf-8"))
            return info["commit"] + ("-dirty" if info.get("dirty") else "")
        except (ValueError, KeyError, TypeError):
            return None
    root = checkout()
    if root is None:
        return None
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = top.stdout.split()
    if top.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root:
        return None
    return lines[1]
