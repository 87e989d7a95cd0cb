"""Hostile and unlucky input: every case ends in a one-line message (no traceback), leaks
nothing from the reporter's machine or the target, and leaves nothing behind.

Covers issue 11's items for output paths, bundles (no checks, long names, disk and repro
hardening), terminal/REPORT.md neutralising, the ssh target's one-line errors, clean's
newline namespace, the set-up failure's own stderr, and the destroy decision.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from conftest import SCENARIOS, needs_root
from faultkit import harness_cmd, leftovers, new_leftovers_after, run_harness, run_harness_here
from harness import bundle, cli
from harness.bundle import MAX_MEMBERS, bundle_name, open_bundle, read_bundle
from harness.outcome import run_passed
from harness.report import one_line, printable, script_failure
from harness.targets.base import TargetError
from harness.targets.local import LocalTarget

# Beside the other tests: leftovers are counted against what was there before (a run that holds its
# lock is not a leftover), and nothing here cleans another run's (harness clean --run-id only).
pytestmark = needs_root


def harness(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return run_harness(*args, cwd=cwd, **kwargs)


def refused(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``harness ARGS`` for input refused before anything runs: in this process (faultkit)."""
    return run_harness_here(*args, cwd=cwd)


def one_line_error(run: subprocess.CompletedProcess, fragment: str) -> str:
    """The run failed with exit code 2 and a single ``harness: ...`` line holding ``fragment``."""
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("harness: ")]
    assert len(lines) == 1 and fragment in lines[0], run.stderr
    return lines[0]


@pytest.fixture
def clean_slate():
    before = leftovers()
    yield
    left = new_leftovers_after(before, wait_s=15)
    assert not left, f"left behind: {sorted(left)}"


def failing(text_name: str = "client-gateway-server", name: str | None = None) -> str:
    text = (SCENARIOS / f"{text_name}.yaml").read_text().replace("ttl: 63", "ttl: 64")
    return text.replace(f"name: {text_name}", f"name: {name}") if name else text


# -- output paths are checked before anything runs ----------------------------------------------


@pytest.mark.parametrize("args, fragment", [
    (["--json", "."], "--json .: is a directory"),
    (["--json", "nodir/r.json"], "--json nodir/r.json: directory nodir does not exist"),
    (["--bundle-dir", "afile"], "--bundle-dir afile: is a file, not a directory"),
    (["--bundle-dir", "afile/below"], "--bundle-dir afile/below: afile is a file, not a directory"),
])
def test_bad_output_paths_stop_before_anything_runs(tmp_path, args, fragment):
    (tmp_path / "afile").write_text("")
    run = refused("run", str(SCENARIOS / "veth-pair.yaml"), *args, cwd=tmp_path)
    one_line_error(run, fragment)
    assert "target local" not in run.stderr and run.stdout == ""  # nothing ran


def test_read_only_bundle_dir_is_refused_first(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "nhro", str(ro)], check=True)
    try:
        run = refused("run", str(SCENARIOS / "veth-pair.yaml"), "--bundle-dir", str(ro / "b"), cwd=tmp_path)
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    one_line_error(run, "cannot be written")


def test_long_scenario_name_gets_a_short_bundle_name(tmp_path, clean_slate):
    name = "n" * 100  # the longest the scenario model takes; bundle_name cuts any length (below)
    (tmp_path / "long.yaml").write_text(failing(name=name))
    (tmp_path / "next.yaml").write_text(failing(name="next"))
    run = harness("run", "long.yaml", "next.yaml", "--bundle-dir", "b", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr  # both FAIL; nothing broke
    bundles = sorted(p.name for p in (tmp_path / "b").glob("*.tar.gz"))
    assert len(bundles) == 2 and all(len(b) < 100 for b in bundles), bundles
    long = "n" * 250
    assert bundle_name(long, "abc123") == f"{'n' * 55}-{hashlib.sha256(long.encode()).hexdigest()[:8]}-abc123"
    assert bundle_name("../x y", "abc123").startswith("_..-x-y-")


# -- bundles for results without checks -------------------------------------------------------


def test_skip_with_report_writes_a_bundle_and_goes_on(tmp_path, clean_slate):
    (tmp_path / "skip.yaml").write_text("name: skipper\nrequires: {kernel: '99.0'}\nnamespaces:\n  a:\n"
                                        "checks:\n  - route: {namespace: a, dst: default, expect: absent}\n")
    run = harness("run", "skip.yaml", str(SCENARIOS / "veth-pair.yaml"), "--report", "--bundle-dir", "b", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SKIP  skipper" in run.stdout and "PASS  veth-pair" in run.stdout
    [skipped] = (tmp_path / "b").glob("skipper-notrun-*.tar.gz")
    root = open_bundle(skipped, tmp_path / "x")
    assert json.loads((root / "results.json").read_text())["checks"] == []
    assert "No check ran: needs kernel >= 99.0" in (root / "REPORT.md").read_text()
    # repro.sh still names the check it would run.
    assert "route a default absent" in (root / "repro.sh").read_text()


# -- what reaches the terminal and REPORT.md ----------------------------------------------------


def test_control_characters_are_neutralised_on_output(tmp_path, clean_slate):
    """Names the scenario model lets through: C1 controls (U+009B is CSI on 8-bit terminals) and
    a bidirectional override. C0 controls and '|' are refused by the model; the unit test below
    covers them on the output side."""
    evil = "\u009b2K\u009b1GPASS  all good\u202e"
    text = failing().replace("name: client reaches server through one hop", f'name: "{evil.encode("unicode_escape").decode()}"')
    text = text.replace("name: default routes via the gateway", 'name: "step \\u202e reversed"')
    (tmp_path / "evil.yaml").write_text(text)
    run = harness("run", "evil.yaml", "--bundle-dir", "b", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert not re.search("[\u0080-\u009f\u202e]", run.stdout + run.stderr)
    assert "\\x9b2K\\x9b1GPASS  all good\\u202e" in run.stdout
    [root] = [p for p in (tmp_path / "b").iterdir() if p.is_dir()]
    report = (root / "REPORT.md").read_text()
    assert not re.search("[\u0080-\u009f\u202e]", report)
    row = next(line for line in report.splitlines() if "all good" in line)
    assert row.count(" | ") == 4 and "step \\u202e reversed" in row


def test_terminal_and_report_neutralise_whatever_a_result_holds():
    """Names, reasons and raw output from a target: escapes shown, never sent."""
    from harness.bundle import report_markdown
    from harness.loader import load_scenario
    from harness.report import format_scenario
    from harness.runner import CheckResult, ScenarioResult

    evil = "\x1b]0;owned\x07\x1b[2K\rPASS\u202e"
    check = CheckResult(id="s0c0", name=f"n{evil}", kind="route", step=f"s|{evil}", status="FAIL",
                        reason=f"r|{evil}", expected={"k": evil}, observed={}, command=f"ip {evil}",
                        exit_code=1, stdout=f"out{evil}\n", stderr=f"err{evil}\n")
    result = ScenarioResult(name=f"x{evil}", file="", status="FAIL", reason=f"why{evil}", description=evil,
                            run_id="abc123", checks=[check], script_stderr=f"{evil}\n", kernel_warnings=[f"WARNING: {evil}"])
    text = format_scenario(result, verbose=True)
    report = report_markdown(load_scenario(SCENARIOS / "veth-pair.yaml"), result, {"uname": evil, "target": evil}, "b")
    for out in (text, report):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", out), out
        assert "\\x1b]0;owned\\x07" in out
    assert "| s\\|" in report


def test_pipe_in_reason_does_not_break_the_table():
    from harness.bundle import md_cell, md_code

    assert md_cell("a | b\nc") == "a \\| b\\x0ac"
    assert md_code("x`y") == "``x`y``"
    assert printable("ok\n\x1b[31m") == "ok\n\\x1b[31m" and one_line("a\tb") == "a\\x09b"


def test_bundle_has_no_host_name(tmp_path, clean_slate):
    (tmp_path / "f.yaml").write_text(failing())
    harness("run", "f.yaml", "--bundle-dir", "b", cwd=tmp_path)
    host = os.uname().nodename
    [root] = [p for p in (tmp_path / "b").iterdir() if p.is_dir()]
    target = json.loads((root / "target.json").read_text())
    assert target["uname"].split()[:2] == ["Linux", os.uname().release]
    for path in root.rglob("*"):
        if path.is_file():
            assert not re.search(rf"\b{re.escape(host)}\b", path.read_text(errors="replace")), path


def test_nft_include_does_not_copy_target_files(tmp_path, clean_slate):
    secret = f"secret-{secrets.token_hex(8)}:x:0:0"
    (tmp_path / "private").write_text(f"{secret}\n{secret}2\n")
    (tmp_path / "inc.yaml").write_text(f"""\
name: inc
namespaces:
  a:
firewall:
  - namespace: a
    nft: |
      include "{tmp_path / 'private'}"
checks:
  - route: {{namespace: a, dst: default, expect: absent}}
""")
    # The ruleset must be self-contained: an include is refused before anything runs, so no
    # line of a target's file can reach the terminal, the results or a bundle.
    run = harness("run", "inc.yaml", "--bundle-dir", "b", "--json", "r.json", cwd=tmp_path)
    assert run.returncode == 2
    assert "inc.yaml:6: firewall[0].nft: an nft 'include' reads a file of the target" in run.stderr
    assert "nothing was run" in run.stderr and secret not in run.stdout + run.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "r.json").exists()


def test_setup_failure_shows_the_commands_own_stderr(tmp_path, clean_slate):
    (tmp_path / "s.yaml").write_text("""\
name: badnft
namespaces:
  a:
  b:
firewall:
  - namespace: a
    nft: |
      table inet t {
        chain c {
          frobnicate now
        }
      }
checks:
  - route: {namespace: a, dst: default, expect: absent}
""")
    run = harness("run", "s.yaml", "--bundle-dir", "b", "--json", "r.json", cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "  the script stopped at: " in run.stdout and "nft -f -" in run.stdout
    assert re.search(r"^    /dev/stdin:\d+:\d+-\d+: Error: ", run.stdout, re.M), run.stdout  # nft's own words
    stderr = json.loads((tmp_path / "r.json").read_text())["scenarios"][0]["script_stderr"]
    assert stderr.count("netns-harness: command failed") == 1, stderr  # none from tear-down
    [root] = [p for p in (tmp_path / "b").iterdir() if p.is_dir()]
    report = (root / "REPORT.md").read_text()
    assert "## Where the script stopped" in report and "frobnicate now" in report
    failure = script_failure(stderr)
    assert failure.exit_code == 1 and "nft -f -" in failure.command


# -- harness render / clean -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [["render", "--run-id", "zzz"], ["clean", "--run-id", "zzz"]])
def test_bad_run_id_is_one_line(tmp_path, args):
    run = refused(*args, *([str(SCENARIOS / "veth-pair.yaml")] if args[0] == "render" else []), cwd=tmp_path)
    one_line_error(run, "--run-id 'zzz': a run id is six lowercase hex digits")


def test_clean_removes_a_namespace_whose_name_ends_in_a_newline(tmp_path, clean_slate):
    run_id = secrets.token_hex(3)
    name = f"nh{run_id}-va\n"
    subprocess.run(["ip", "netns", "add", name], check=True)
    clean = harness("clean", "--run-id", run_id, cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"removed namespace $'nh{run_id}-va\\n'" in clean.stdout
    assert name not in os.listdir("/var/run/netns")


# -- the ssh target's one-line errors --------------------------------------------------------------


@pytest.mark.parametrize("spec, fragment", [
    ("ssh://127.0.0.1:notaport", "port 'notaport' is not a number from 1 to 65535"),
    ("ssh://127.0.0.1:99999", "port '99999' is not a number from 1 to 65535"),
    ("ssh://root@127.0.0.1:0", "port '0' is not a number"),
    ("ssh://", "is not ssh://[user@]host[:port]"),
    ("ssh://host/path", "is not ssh://[user@]host[:port]"),
    ("ssh://u:pw@host", "is not ssh://[user@]host[:port]"),
    ("ssh://a;b@host", "'a;b' is not a user name: use letters, digits"),
    ("ssh://-oProxyCommand=x@host", "'-oProxyCommand=x' is not a user name"),
    ("ssh://root@h$(id)", "'h$(id)' is not a host name or address"),
    ("ssh://root@-oFoo", "'-ofoo' is not a host name or address"),
    ("ssh://ro\not@127.0.0.1", "has a control character"),
    ("ssh://@127.0.0.1", "has an empty user name before '@'"),
    ("ssh://root@127.0.0.1:", "port '' is not a number from 1 to 65535"),
    ("ssh://127.0.0.1:\uff10\uff11", "is not a number from 1 to 65535"),
])
def test_malformed_ssh_target_is_one_line(tmp_path, spec, fragment):
    run = refused("run", str(SCENARIOS / "veth-pair.yaml"), "--target", spec, "--ssh-config", os.devnull, cwd=tmp_path)
    one_line_error(run, fragment)


class _Peer:
    """A TCP listener on loopback that accepts and then says nothing (or only an SSH banner)."""

    def __init__(self, banner: bytes = b""):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.banner, self.conns = banner, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
                if self.banner:
                    conn.sendall(self.banner)
        except OSError:
            pass

    def close(self):
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.mark.parametrize("banner, fragment", [
    (b"", "no SSH server answered within 2 s (something listens on that port but sent no SSH banner)"),
    (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "the server sent its banner (SSH-2.0-OpenSSH_9.2p1 Debian-2) but the SSH handshake did not complete within 2 s"),
])
def test_silent_or_stuck_ssh_server_is_one_line(tmp_path, banner, fragment):
    peer = _Peer(banner)
    config = tmp_path / "ssh_config"
    config.write_text(f"Host stuck\n  HostName 127.0.0.1\n  Port {peer.port}\n  ConnectTimeout 2\n")
    try:
        started = time.monotonic()
        run = harness("run", str(SCENARIOS / "veth-pair.yaml"), "--target", "ssh://stuck", "--ssh-config", str(config),
                      cwd=tmp_path)
        assert time.monotonic() - started < 20
    finally:
        peer.close()
    one_line_error(run, fragment)


# -- repro on malformed and hostile bundles ----------------------------------------------------


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory):
    """A real bundle: veth-pair run with --report (it passes, so repro should say REPRODUCED)."""
    work = tmp_path_factory.mktemp("good")
    run = run_harness("run", str(SCENARIOS / "veth-pair.yaml"), "--report", "--bundle-dir", "b", cwd=work)
    assert run.returncode == 0, run.stdout + run.stderr
    [archive] = (work / "b").glob("*.tar.gz")
    return archive, archive.with_name(archive.name.removesuffix(".tar.gz"))


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _bundle_members(root: Path, prefix: str = "b") -> list:
    return [_file(f"{prefix}/{p.name}", p.read_bytes()) for p in root.iterdir() if p.is_file()]


@pytest.mark.parametrize("case, fragment", [
    ("not-an-archive", "not a bundle archive (a .tar.gz) or directory"),
    ("truncated", "damaged or truncated archive"),
    ("dotdot", "points outside the bundle"),
    ("absolute", "points outside the bundle"),
    ("symlink", "is a link; a bundle holds only plain files"),
    ("hardlink", "is a link; a bundle holds only plain files"),
    ("two-dirs", "a bundle archive holds one directory"),
    ("missing", "not a netns-harness bundle (results.json is missing)"),
    ("bad-results", "results.json is not valid JSON"),
    ("results-list", "results.json is not a JSON object"),
    ("results-no-checks", "results.json: 'checks' is missing or not a list"),
    ("results-bad-check", "results.json: checks[0] needs an 'id' and a 'status'"),
    ("bad-target", "target.json is not UTF-8 text"),
    ("target-not-json", "target.json is not valid JSON (line 1"),
    ("target-kernel", "target.json: 'kernel' is not a string"),
    ("bad-scenario", "the bundle's scenario.yaml is not valid"),
])
def test_malformed_bundle_is_one_line(tmp_path, good_bundle, case, fragment):
    archive, root = good_bundle
    bad = tmp_path / "bad.tar.gz"
    members = _bundle_members(root)
    replace = {
        "bad-results": ("results.json", b"{not json"), "results-list": ("results.json", b"[]"),
        "results-no-checks": ("results.json", b'{"status": "PASS"}'),
        "results-bad-check": ("results.json", b'{"status": "PASS", "checks": [{"id": 3}]}'),
        "bad-target": ("target.json", b"\xff\xfe"), "target-not-json": ("target.json", b"{"),
        "target-kernel": ("target.json", b'{"kernel": 6}'),
        "bad-scenario": ("scenario.yaml", b"name: [unclosed\n"),
    }
    if case == "not-an-archive":
        bad.write_bytes(os.urandom(4096))
    elif case == "truncated":
        data = archive.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif case == "dotdot":
        _tar(bad, members + [_file("b/../../escaped.txt")])
    elif case == "absolute":
        _tar(bad, [_file("/tmp/absolute.txt")] + members)
    elif case == "symlink":
        _tar(bad, [m for m in members if not m[0].name.endswith("scenario.yaml")] + [_link("b/scenario.yaml", "/etc/shadow")])
    elif case == "hardlink":
        _tar(bad, members + [_link("b/shadow", "/etc/shadow", tarfile.LNKTYPE)])
    elif case == "two-dirs":
        _tar(bad, members + [_file("other/x")])
    elif case == "missing":
        _tar(bad, [m for m in members if not m[0].name.endswith("results.json")])
    else:
        file, data = replace[case]
        _tar(bad, [m for m in members if not m[0].name.endswith(file)] + [_file(f"b/{file}", data)])
    run = refused("repro", str(bad), "--target", "local", cwd=tmp_path)
    line = one_line_error(run, fragment) if case != "bad-scenario" else None
    if case == "bad-scenario":
        assert run.returncode == 2 and "Traceback" not in run.stderr and fragment in run.stderr
        assert str(bad) in run.stderr and "/tmp/netns-harness-repro-" not in run.stderr
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/absolute.txt").exists()
    assert "root:" not in run.stdout + run.stderr
    if line:
        assert str(bad) in line


def test_archive_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """~300 KB of gzip that would unpack to 300 MiB: refused at the member's header."""
    bomb = tmp_path / "bomb.tar.gz"
    size = 300 * 2**20

    class Zeros(io.RawIOBase):
        left = size

        def readinto(self, buffer):
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    with gzip.GzipFile(bomb, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo("b/results.json")
        info.size = size
        tar.addfile(info, Zeros())
    assert bomb.stat().st_size < 2 * 2**20
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    started = time.monotonic()
    with pytest.raises(ValueError, match="unpacks to more than 256 MiB"):
        open_bundle(bomb, scratch)
    assert time.monotonic() - started < 5
    assert sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file()) == 0


def test_too_many_members_is_refused(tmp_path, monkeypatch):
    # The limit's logic with a small limit: MAX_MEMBERS files took 24 s of CPU to pack and unpack.
    assert MAX_MEMBERS == 20000
    monkeypatch.setattr(bundle, "MAX_MEMBERS", 30)
    many = tmp_path / "many.tar.gz"
    _tar(many, [_file(f"b/{i}", b"") for i in range(31)])
    with pytest.raises(ValueError, match="more than 30 members"):
        open_bundle(many, tmp_path / "scratch")
    # It stopped at the limit: what it unpacked before is gone or at most the limit.
    assert len([p for p in (tmp_path / "scratch").rglob("*") if p.is_file()]) <= 30
    # At the limit the count is no reason: the archive is refused for what it lacks instead.
    _tar(many, [_file(f"b/{i}", b"") for i in range(30)])
    with pytest.raises(ValueError, match="scenario.yaml is missing"):
        open_bundle(many, tmp_path / "scratch2")


def test_directory_bundle_with_a_symlink_is_refused(tmp_path, good_bundle):
    _, root = good_bundle
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "scenario.yaml").unlink()
    (copy / "scenario.yaml").symlink_to("/etc/shadow")
    run = refused("repro", str(copy), "--target", "local", cwd=tmp_path)
    one_line_error(run, "scenario.yaml is a symbolic link; a bundle holds only plain files")
    assert "root:" not in run.stdout + run.stderr


def test_swapped_scenario_is_said(tmp_path, good_bundle, clean_slate):
    _, root = good_bundle
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    same = harness("repro", str(copy), "--target", "local", cwd=tmp_path)
    assert same.returncode == 0 and "REPRODUCED: bundle PASS, now PASS\n" in same.stdout
    assert "warning" not in same.stderr
    (copy / "scenario.yaml").write_text((SCENARIOS / "veth-pair.yaml").read_text().replace("ttl: 64", "ttl: 64 ", 1))
    swapped = harness("repro", str(copy), "--target", "local", cwd=tmp_path)
    assert "harness: warning: the bundle's scenario.yaml is not the one that ran" in swapped.stderr
    assert "(with a scenario.yaml that differs from the one that ran)" in swapped.stdout
    results = json.loads((copy / "results.json").read_text())
    del results["scenario_sha256"]
    (copy / "results.json").write_text(json.dumps(results))
    old = harness("repro", str(copy), "--target", "local", cwd=tmp_path)
    assert "records no digest of scenario.yaml" in old.stderr


def test_read_bundle_reports_the_digest(good_bundle):
    _, root = good_bundle
    assert read_bundle(root, root).scenario_changed is False


# -- one decision for destroying a VM after a failure ---------------------------------------------


def test_destroy_decision_is_shared():
    assert run_passed(["PASS", "SKIP", "XFAIL", "XPASS"])
    assert not run_passed(["PASS", "FAIL"]) and not run_passed(["ERROR"])
    # A failure after the VM came up that left no result (facts probe, lost connection):
    assert not run_passed([], failed_outside_scenarios=True)
    assert run_passed([])  # nothing ran and nothing failed (e.g. Ctrl-C before the first scenario)


class _Recording(LocalTarget):
    """The local target, telling what the CLI decided (a VM target destroys or keeps on it)."""

    outcomes: list = []
    fail_first_run = False

    def run(self, script, *, timeout):
        if _Recording.fail_first_run:
            _Recording.fail_first_run = False
            raise TargetError("connection to the VM lost (injected)")
        return super().run(script, timeout=timeout)

    def set_outcome(self, passed: bool) -> None:
        _Recording.outcomes.append(passed)


@pytest.mark.parametrize("scenario, fail_facts, passed", [("pass", False, True), ("fail", False, False),
                                                         ("pass", True, False)])
def test_cli_uses_the_shared_decision(tmp_path, monkeypatch, capsys, clean_slate, scenario, fail_facts, passed):
    import harness.targets as targets

    path = tmp_path / "s.yaml"
    path.write_text(failing() if scenario == "fail" else (SCENARIOS / "veth-pair.yaml").read_text())
    _Recording.outcomes, _Recording.fail_first_run = [], fail_facts
    monkeypatch.setattr(targets, "get_target", lambda spec, **kw: _Recording())
    cli.main(["run", str(path), "--bundle-dir", str(tmp_path / "b")])
    capsys.readouterr()
    assert _Recording.outcomes == [passed]


# -- found by a new user's review ---------------------------------------------------------------


def test_a_backtracking_pattern_is_error_in_seconds_not_a_hang(tmp_path, clean_slate):
    """`grep -E` answers ^(a|aa)+$ at once; a backtracking matcher would take ages on 40 a's."""
    (tmp_path / "evil.yaml").write_text("""
name: evil-pattern
namespaces: {a: }
checks:
  - command: {namespace: a, run: "printf aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", stdout: "^(a|aa)+$"}
  - command: {namespace: a, run: "printf ok", stdout: "^ok$"}
""")
    started = time.monotonic()
    run = harness("run", "evil.yaml", "--json", "r.json", cwd=tmp_path)
    assert time.monotonic() - started < 60, "the judge hung on the pattern"
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    evil, fine = json.loads((tmp_path / "r.json").read_text())["scenarios"][0]["checks"]
    assert evil["status"] == "ERROR" and "took over" in evil["reason"], evil
    assert fine["status"] == "PASS"


def test_a_reader_that_goes_away_loses_no_results(tmp_path, clean_slate):
    """`harness run ... --json r.json | head -1`: the run goes on quietly; the JSON and bundles are whole."""
    (tmp_path / "fails.yaml").write_text((SCENARIOS / "veth-pair.yaml").read_text().replace(
        "name: veth-pair", "name: fails", 1).replace("ttl: 64", "ttl: 63"))
    assert "ttl: 63" in (tmp_path / "fails.yaml").read_text()
    harness_run = subprocess.Popen(
        harness_cmd("run", "fails.yaml", str(SCENARIOS / "loopback.yaml"), "--json", "r.json",
                    "--bundle-dir", "b"), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    harness_run.stdout.readline()
    harness_run.stdout.close()   # as `head -1` does
    err = harness_run.stderr.read()
    assert harness_run.wait(timeout=120) == 141, err
    assert "Traceback" not in err
    results = json.loads((tmp_path / "r.json").read_text())
    assert [s["name"] for s in results["scenarios"]] == ["fails", "loopback"]
    assert [s["status"] for s in results["scenarios"]] == ["FAIL", "PASS"]
    assert list((tmp_path / "b").glob("fails-*.tar.gz"))


def test_render_of_a_folder_is_one_line(tmp_path):
    (tmp_path / "s").mkdir()
    for name in ("veth-pair.yaml", "loopback.yaml"):
        shutil.copy(SCENARIOS / name, tmp_path / "s" / name)
    one_line_error(refused("render", "s", cwd=tmp_path), "render takes one file")


def test_keys_and_file_names_cannot_forge_terminal_lines(tmp_path):
    """A YAML key or a file name holding ESC, CR, a newline or a bidi override is printed escaped."""
    (tmp_path / "s").mkdir()
    evil_key = "a\x1b[2K\rharness: 0 problem(s) found; all good\nfake.yaml:1: ok\u202e"
    (tmp_path / "s" / "x\x1b[2Ky.yaml").write_text(
        "name: forged\nnamespaces:\n  " + json.dumps(evil_key) + ":\n")
    run = harness("validate", "s", cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    for raw in ("\x1b", "\r", "\u202e"):
        assert raw not in run.stderr + run.stdout
    assert not any(line.startswith("fake.yaml") for line in run.stderr.splitlines())
    assert "\\x1b[2K" in run.stderr
