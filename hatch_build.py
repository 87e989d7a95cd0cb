"""Hatch build hook: record the git commit a wheel or sdist is built from.

Writes ``harness/_build.json`` (``{"commit": ..., "dirty": ...}``) into the archive when the
build runs in the harness's own git checkout. A wheel built from an sdist finds the file
already there (the sdist carries it), so the commit survives ``pip install SDIST``.
Editable installs get nothing: there the checkout itself answers (``harness.resources``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _git(root: str, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            return
        recorded = Path(self.root) / "harness" / "_build.json"
        toplevel = _git(self.root, "rev-parse", "--show-toplevel")
        # Only the checkout this pyproject.toml lives in, never a repository around it.
        if not toplevel or os.path.realpath(toplevel) != os.path.realpath(self.root):
            if recorded.is_file():  # an unpacked sdist: keep what its build recorded
                build_data["force_include"][str(recorded)] = "harness/_build.json"
            return
        commit = _git(self.root, "rev-parse", "HEAD")
        if not commit:
            return
        dirty = bool(_git(self.root, "status", "--porcelain", "--untracked-files=no"))
        self._scratch = tempfile.mkdtemp(prefix="netns-harness-build-")
        path = Path(self._scratch) / "_build.json"
        path.write_text(json.dumps({"commit": commit, "dirty": dirty}) + "\n", encoding="utf-8")
        build_data["force_include"][str(path)] = "harness/_build.json"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
