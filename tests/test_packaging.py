"""What an installed harness needs: its own files, its own commit, `harness init`, the CLI's help and colour.

The wheel itself is built and used in a fresh venv outside the checkout by `.ci/wheel-smoke.sh`.
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, needs_root
from faultkit import run_harness_here
from harness import resources
from harness.cli import coloured
from harness.init import InitError, init_project, install_source
from harness.loader import load_scenario


def harness(*args, cwd, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=timeout)


def git(*args, cwd):
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, check=True).stdout.strip()


def test_a_checkout_uses_its_own_files():
    assert resources.checkout() == REPO
    assert resources.templates_dir() == REPO / "templates"
    assert resources.default_vagrantfile() == REPO / "Vagrantfile"
    assert resources.example_scenario() == REPO / "scenarios" / resources.EXAMPLE_SCENARIO


def test_the_commit_is_the_checkouts_own():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout (an sdist)")
    resources.harness_commit.cache_clear()
    assert resources.harness_commit() == git("rev-parse", "HEAD", cwd=REPO)


def test_a_copy_inside_another_git_repository_records_no_commit(tmp_path):
    """A venv inside someone's repository: the harness must not claim that repository's commit."""
    project = tmp_path / "project"
    site = project / "venv" / "site-packages"
    shutil.copytree(REPO / "harness", site / "harness", ignore=shutil.ignore_patterns("__pycache__", "_build.json"))
    git("init", "-q", cwd=project)
    git("-c", "user.name=x", "-c", "user.email=x@x.invalid", "commit", "-q", "--allow-empty", "-m", "x", cwd=project)
    code = "from harness import resources; print(resources.harness_commit(), resources.checkout())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project,
                         env={**os.environ, "PYTHONPATH": str(site)}, check=True).stdout.split()
    assert out == ["None", "None"]
    # A build records its commit in the package: that one counts.
    (site / "harness" / "_build.json").write_text(json.dumps({"commit": "abc123", "dirty": True}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project,
                         env={**os.environ, "PYTHONPATH": str(site)}, check=True).stdout.split()
    assert out == ["abc123-dirty", "None"]


def test_a_projects_own_vagrantfile_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resources.vagrant_dir() == REPO  # none here: the checkout's
    (tmp_path / "Vagrantfile").write_text("# mine\n")
    assert resources.vagrant_dir() == tmp_path


def test_init_lays_out_a_project_that_validates(tmp_path):
    proc = harness("init", "proj", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "proj"
    example = project / "scenarios" / resources.EXAMPLE_SCENARIO
    assert example.read_text().splitlines()[0] == "# yaml-language-server: $schema=scenario.schema.json"
    assert load_scenario(example).name == "client-gateway-server"
    schema = json.loads((project / "scenarios" / "scenario.schema.json").read_text())
    import jsonschema

    jsonschema.validate(yaml.safe_load(example.read_text()), schema, cls=jsonschema.Draft202012Validator)
    noxfile = (project / "noxfile.py").read_text()
    compile(noxfile, "noxfile.py", "exec")
    assert "def scenarios(" in noxfile and '"--harness-target"' in noxfile
    assert harness("validate", "scenarios", cwd=project).returncode == 0
    # It installs this harness as pip installed it (here: the checkout, editable; .ci/wheel-smoke.sh: the wheel).
    [default] = re.findall(r'os\.environ\.get\("NETNS_HARNESS"\) or (.*)', noxfile)
    assert ast.literal_eval(default) == install_source()


def test_the_noxfile_installs_what_pip_recorded_else_the_release(monkeypatch, tmp_path):
    import harness.init as init

    wheel = tmp_path / "my dir" / "netns_harness-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"")

    class Recorded:
        def __init__(self, record):
            self.record = record

        def read_text(self, name):
            return self.record if name == "direct_url.json" else None

    for record, expected in [(json.dumps({"url": wheel.as_uri(), "archive_info": {}}), str(wheel)),
                             (json.dumps({"url": (tmp_path / "gone.whl").as_uri(), "archive_info": {}}), init.REQUIREMENT),
                             (json.dumps({"url": "https://example.invalid/x.whl", "archive_info": {}}), init.REQUIREMENT),
                             (None, init.REQUIREMENT), ("{not json", init.REQUIREMENT)]:
        monkeypatch.setattr(init.importlib.metadata, "distributions", lambda name, r=record: [Recorded(None), Recorded(r)])
        assert init.install_source() == expected, record
    assert f"os.environ.get(\"NETNS_HARNESS\") or {init.REQUIREMENT!r}\n" in init.noxfile()


def test_init_never_overwrites_unless_forced(tmp_path):
    (tmp_path / "noxfile.py").write_text("# mine\n")
    with pytest.raises(InitError, match=r"noxfile\.py already exists: move them away, or overwrite them with --force"):
        init_project(tmp_path)
    assert (tmp_path / "noxfile.py").read_text() == "# mine\n" and not (tmp_path / "scenarios").exists()
    proc = harness("init", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    init_project(tmp_path, force=True)
    assert "def scenarios(" in (tmp_path / "noxfile.py").read_text()


@pytest.mark.parametrize("command", [[], ["init"], ["run"], ["repro"], ["schema"], ["validate"], ["render"]])
def test_help_has_a_description_and_an_example(command, tmp_path):
    # The program's own help from the installed module; each command's in this process (argparse).
    proc = harness(*command, "--help", cwd=tmp_path) if not command else run_harness_here(*command, "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "example" in proc.stdout
    if not command:
        for words in ("exit codes:", "environment:", "NO_COLOR", "HARNESS_BOX", "130"):
            assert words in proc.stdout


def test_repro_help_tells_its_real_default(tmp_path):
    text = " ".join(run_harness_here("repro", "--help", cwd=tmp_path).stdout.split())
    assert "default: the bundle's own kind: the same box in a fresh VM for a bundle from a VM, else local" in text


class Terminal:
    def isatty(self):
        return True


class Pipe:
    def isatty(self):
        return False


def test_colour_on_a_terminal_only_and_never_with_no_color(monkeypatch):
    text = "PASS  veth-pair (4 checks, 1.00 s)\n    FAIL  ping a -> b: PASS and FAIL in a reason stay plain"
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert coloured(text, Terminal()) == ("\033[32mPASS\033[0m  veth-pair (4 checks, 1.00 s)\n"
                                          "    \033[31mFAIL\033[0m  ping a -> b: PASS and FAIL in a reason stay plain")
    assert coloured(text, Pipe()) == text
    monkeypatch.setenv("NO_COLOR", "1")
    assert coloured(text, Terminal()) == text
    monkeypatch.setenv("NO_COLOR", "")  # empty: as if unset (no-color.org)
    assert coloured(text, Terminal()) != text


@needs_root
def test_json_to_stdout_and_the_report_to_stderr(tmp_path):
    proc = harness("run", str(REPO / "scenarios" / "veth-pair.yaml"), "--json", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema_version"] == 1 and document["scenarios"][0]["status"] == "PASS"
    assert "PASS  veth-pair" in proc.stderr and "\033[" not in proc.stderr  # piped: no colour
    assert not (tmp_path / "-").exists()
