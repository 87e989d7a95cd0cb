"""``harness init``: lay out a project that tests its network setups with netns-harness.

Writes ``scenarios/`` with one example scenario (its first line points YAML editors at the
schema), ``scenarios/scenario.schema.json`` (``harness schema scenario``) and a
``noxfile.py`` with the ``scenarios`` session. Existing files are never overwritten
unless asked.
"""

from __future__ import annotations

import importlib.metadata
import json
import urllib.parse
from pathlib import Path

from harness import __version__
from harness.resources import EXAMPLE_SCENARIO, example_scenario
from harness.schema import SCHEMA_HINT, scenario_schema

SCHEMA_FILE = "scenario.schema.json"

NOXFILE = '''"""nox sessions for this project's netns-harness scenarios (made by `harness init`).

    nox -s scenarios                              every scenario in a Vagrant VM
    nox -s scenarios -- --harness-target local    on this machine instead (as root)
    nox -s scenarios -- -k "one hop"              only the checks whose names match

Results: results/scenarios.xml (JUnit, one testcase per check), results/scenarios.json,
and a bug-report bundle per failing scenario in results/bundles/.
"""

import os

import nox

# What to install: {source_said}.
# NETNS_HARNESS (a wheel, a checkout or a requirement such as netns-harness=={version}) wins.
HARNESS = os.environ.get("NETNS_HARNESS") or {source}

nox.options.sessions = ["scenarios"]


@nox.session
def scenarios(session: nox.Session) -> None:
    """Run scenarios/ through pytest (default target: a Vagrant VM; HARNESS_TARGET changes it)."""
    # pytest<9.2: 9.2 breaks pytest-xdist's --dist loadgroup, which -n N and the kernel matrix use.
    session.install(HARNESS, "pytest>=7.4,<9.2", "pytest-xdist>=3.5")
    os.makedirs("results", exist_ok=True)
    session.run(
        "pytest", "scenarios", "-p", "no:cacheprovider", "-v",
        "--harness-target", os.environ.get("HARNESS_TARGET", "vagrant"),
        "--junitxml", "results/scenarios.xml", "--harness-json", "results/scenarios.json",
        *session.posargs,
        # Ctrl-C must leave the harness time to tear down namespaces and destroy the VM.
        interrupt_timeout=120,
    )
'''


class InitError(Exception):
    """``harness init`` would overwrite files (their names are in the message)."""


def project_files() -> dict[str, str]:
    """Relative path -> content of every file ``harness init`` writes."""
    example = example_scenario().read_text(encoding="utf-8")
    if not example.startswith(SCHEMA_HINT):
        example = f"{SCHEMA_HINT}{SCHEMA_FILE}\n{example}"
    return {
        f"scenarios/{EXAMPLE_SCENARIO}": example,
        f"scenarios/{SCHEMA_FILE}": json.dumps(scenario_schema(), indent=2) + "\n",
        "noxfile.py": noxfile(),
    }


def noxfile() -> str:
    """The project's ``noxfile.py``: it installs the netns-harness that wrote it (``install_source``)."""
    source = install_source()
    said = ("the netns-harness that `harness init` ran from, as pip installed it" if source != REQUIREMENT
            else "netns-harness {version} from the package index")
    return (NOXFILE.replace("{source_said}", said).replace("{source}", repr(source))
            .replace("{version}", __version__))


REQUIREMENT = f"netns-harness=={__version__}"


def install_source() -> str:
    """Where this netns-harness was installed from, for a project's nox venv to install the same:
    the local wheel or directory in its PEP 610 record (``direct_url.json``, written by pip), if
    it still exists; else ``netns-harness==VERSION`` from the package index. (A stale
    ``.egg-info`` earlier on ``sys.path`` has no record: the first distribution with one counts.)"""
    for dist in importlib.metadata.distributions(name="netns-harness"):
        try:
            url = urllib.parse.urlsplit(json.loads(dist.read_text("direct_url.json") or "{}").get("url", ""))
        except (ValueError, AttributeError):
            continue
        path = urllib.parse.unquote(url.path)
        if url.scheme == "file" and path and Path(path).exists():
            return path
    return REQUIREMENT


def init_project(directory: Path, force: bool = False) -> list[Path]:
    """Write the project files into ``directory`` (created if missing); returns the paths written.

    Raises ``InitError`` naming the files that exist, before writing anything, unless ``force``.
    """
    files = {directory / name: text for name, text in project_files().items()}
    existing = [path for path in files if path.exists()]
    if existing and not force:
        raise InitError(f"{', '.join(map(str, existing))} already exist{'s' if len(existing) == 1 else ''}: "
                        "move them away, or overwrite them with --force")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
