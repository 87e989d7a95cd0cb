"""Fault injection: kill or cut a run at each phase and check what the harness leaves.

Real namespaces, real signals, a real sshd on loopback, a real full disk (a tmpfs mounted
here). For every fault: the exit code, a one-line message (no traceback), a bundle where
one is due, and no leftovers: namespaces, /run/netns-harness locks, temp dirs. The phases
are found from outside, as a user would see them: a run's namespaces appearing (set-up), a
ping running in one (a step), its namespaces going away (tear-down). Faults that need a VM
(vagrant up killed, the VM killed, libvirtd restarted) are in tests/test_vagrant.py's realm
and the README's table.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SCENARIOS, needs_root
from faultkit import (
    comm, kill_pids, leftovers, new_leftovers_after, of_run, ping_running_in, run_harness, run_ids_of_namespaces,
    script_session, start_harness, start_sshd, stop_sshd, wait_for,
)
from harness import cli
from harness.bundle import open_bundle, read_bundle

# Beside the other tests, but for those marked serial: a `harness clean` of the whole machine
# would take the leftovers other tests make on purpose (and check they are removed).
pytestmark = needs_root


def slow_scenario(directory: Path, tag: str, deadline: int = 4) -> Path:
    """Two namespaces and one step whose ping waits ``deadline`` s for an address nobody has."""
    path = directory / f"{tag}.yaml"
    path.write_text(f"""\
name: fault-{tag}
namespaces:
  {tag}a:
  {tag}b:
veths:
  - {{namespace: {tag}a, name: va, addresses: [10.66.0.1/24],
     peer: {{namespace: {tag}b, name: vb, addresses: [10.66.0.2/24]}}}}
steps:
  - name: a ping nobody answers
    checks:
      - ping: {{from: {tag}a, to: 10.66.0.99, count: 1, deadline: {deadline}, expect: unreachable}}
""")
    return path


def wide_scenario(directory: Path, tag: str, count: int = 60) -> Path:
    """``count`` namespaces: set-up and tear-down take long enough to be caught in the act."""
    path = directory / f"{tag}.yaml"
    names = "".join(f"  {tag}{i}:\n" for i in range(count))
    path.write_text(f"name: fault-{tag}\nnamespaces:\n{names}checks:\n"
                    f"  - route: {{namespace: {tag}0, dst: default, expect: absent}}\n")
    return path


def run_namespaces(tag: str) -> dict[str, str]:
    """This test's namespaces (their scenario names start with ``tag``) -> run id."""
    return {name: run for name, run in run_ids_of_namespaces().items() if name.split("-", 1)[1].startswith(tag)}


def assert_one_line_messages(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert all(line.startswith(("harness: ", "target ", "  ", "kept run")) for line in stderr.splitlines() if line), stderr


def assert_bundle(bundle_dir: Path, status: str) -> dict:
    [archive] = bundle_dir.glob("*.tar.gz")
    assert not list(bundle_dir.glob(".*partial"))
    root = open_bundle(archive, bundle_dir / "unpacked")
    contents = read_bundle(root, archive)
    assert contents.results["status"] == status
    assert contents.target["kernel"] == os.uname().release
    assert (root / "kernel.log").is_file() and (root / "repro.sh").is_file() and (root / "REPORT.md").is_file()
    return contents.results


@pytest.fixture
def clean_slate():
    before = leftovers()
    yield before
    left = new_leftovers_after(before, wait_s=20)
    assert not left, f"left behind: {sorted(left)}"


# -- the harness is stopped (Ctrl-C from CI, kill, a closed terminal) ----------------------------


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_during_a_step_tears_down_and_exits_128_plus_signal(tmp_path, clean_slate, sig, code):
    scenario = slow_scenario(tmp_path, f"sig{sig.value}")
    harness = start_harness("run", str(scenario), "--bundle-dir", "b", cwd=tmp_path)
    run_id = wait_for(lambda: ping_running_in(f"sig{sig.value}a"), what="the step's ping")
    session = script_session(harness)
    os.kill(harness.pid, sig)
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == code, out + err
    assert err.strip().splitlines()[-1].startswith(f"harness: {'interrupted' if sig == signal.SIGINT else 'stopped by ' + sig.name}")
    assert_one_line_messages(err)
    assert not (tmp_path / "b").exists()  # interrupted, not failed: no bundle
    assert not of_run(leftovers(), run_id)
    # The script went with it: nothing of its session lives on (SIGHUP used to orphan it).
    assert session
    wait_for(lambda: not _session_members(session), timeout=10,
             what=f"the script's processes to end: {[(p, comm(p)) for p in _session_members(session)]}")


def _session_members(session: int) -> list[int]:
    members = []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            if os.getsid(pid) == session:
                members.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return members


def test_sigterm_during_setup(tmp_path, clean_slate):
    scenario = wide_scenario(tmp_path, "tsetup")
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    wait_for(lambda: 0 < len(run_namespaces("tsetup")) < 60, timeout=30, what="set-up under way")
    os.kill(harness.pid, signal.SIGTERM)
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == 143, out + err
    assert_one_line_messages(err)


def test_sigterm_during_teardown_finishes_the_teardown(tmp_path, clean_slate):
    scenario = wide_scenario(tmp_path, "tdown")
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    wait_for(lambda: len(run_namespaces("tdown")) == 60, timeout=30, what="set-up done")
    wait_for(lambda: len(run_namespaces("tdown")) < 60, timeout=30, what="tear-down under way")
    os.kill(harness.pid, signal.SIGTERM)
    out, err = harness.communicate(timeout=60)
    # Either the signal landed in tear-down (143) or just after the run ended (0): never a leftover.
    assert harness.returncode in (143, 0), out + err
    assert_one_line_messages(err)


def test_sigkill_of_the_harness_leaves_the_script_to_tear_down_alone(tmp_path, clean_slate):
    scenario = slow_scenario(tmp_path, "hkill", deadline=2)
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    run_id = wait_for(lambda: ping_running_in("hkilla"), what="the step's ping")
    harness.kill()
    harness.communicate(timeout=30)
    # Its next write hits a closed pipe (trap PIPE): it tears down by itself.
    wait_for(lambda: not of_run(leftovers(), run_id), timeout=30, what="the orphaned script to tear down")


# -- the run script is killed on the target -------------------------------------------------------


@pytest.mark.parametrize("phase", ["setup", "step", "teardown"])
def test_sigkill_of_the_script_gives_error_bundle_and_no_leftovers(tmp_path, clean_slate, phase):
    tag = f"kscr{phase[:2]}"
    scenario = slow_scenario(tmp_path, tag) if phase == "step" else wide_scenario(tmp_path, tag)
    harness = start_harness("run", str(scenario), "--bundle-dir", "b", cwd=tmp_path)
    if phase == "setup":
        # One ip -batch adds all 60 namespaces; bringing each lo up and the rest of set-up follow.
        wait_for(lambda: len(run_namespaces(tag)) > 0, timeout=30, what="set-up under way")
    elif phase == "step":
        wait_for(lambda: ping_running_in(f"{tag}a"), what="the step's ping")
    else:
        wait_for(lambda: len(run_namespaces(tag)) == 60, timeout=30, what="set-up done")
        wait_for(lambda: len(run_namespaces(tag)) < 60, timeout=30, what="tear-down under way")
    session = script_session(harness)
    if phase in ("setup", "teardown") and not session:
        harness.communicate(timeout=60)
        pytest.skip("the run ended before the kill landed")  # one ip -batch each: a short window
    assert session, "the run script's session"
    os.killpg(session, signal.SIGKILL)
    out, err = harness.communicate(timeout=60)
    if phase == "teardown" and harness.returncode == 0:
        pytest.skip("the run ended before the kill landed")  # the window is ~1 s wide
    assert harness.returncode == 2, out + err
    assert f"ERROR fault-{tag}" in out
    assert_one_line_messages(err)
    results = assert_bundle(tmp_path / "b", "ERROR")
    assert results["script_exit_code"] == -9


def namespace_pids(suffix: str) -> list[int]:
    """The processes in the namespaces named ``*-SUFFIX`` of any run."""
    names = [name for name in run_ids_of_namespaces() if name.endswith("-" + suffix)]
    out = "".join(subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout for name in names)
    return [int(pid) for pid in out.split()]


def test_sigkill_of_the_script_alone_does_not_wait_for_its_check(tmp_path, clean_slate):
    """Only ``bash -s`` is killed (not its group): the check it started would hold the output pipes
    until it ends (here after 30 s). The harness ends what is left of the script at once, ERROR, clean."""
    scenario = tmp_path / "kbash.yaml"
    scenario.write_text("name: fault-kbash\nnamespaces: {kbasha: }\n"
                        "checks:\n  - command: {namespace: kbasha, run: [sleep, '30'], timeout: 40}\n")
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    # The check's own command: set-up runs processes in the namespace too (sysctl).
    wait_for(lambda: "sleep" in {comm(pid) for pid in namespace_pids("kbasha")}, what="the check's sleep")
    session = script_session(harness)
    assert session, "the run script's session"
    os.kill(session, signal.SIGKILL)   # the session leader is bash -s itself
    killed = time.monotonic()
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == 2, out + err
    assert "ERROR fault-kbash" in out
    # Says what happened, without an empty "why" (the script printed nothing on stderr).
    assert "not run: the script was killed by SIGKILL during this step\n" in out, out
    assert_one_line_messages(err)
    assert time.monotonic() - killed < 10, "the harness waited for the check's command to end"


def test_a_killed_script_takes_its_command_checks_timeout_along(tmp_path, clean_slate, monkeypatch, capsys):
    """A script killed before its trap could tear down (the grace period ran out): its command
    check runs under ``timeout``, a process group of its own, which killing the script's group
    missed; it held the run's lock, so the clean after the kill kept the run until the command's
    own limit (60 s here; clean_slate gives leftovers 20 s to go)."""
    import harness.runner as runner
    import harness.targets.local as local

    scenario = tmp_path / "tmcmd.yaml"
    scenario.write_text("name: fault-tmcmd\nnamespaces: {tmcmda: }\n"
                        "checks:\n  - command: {namespace: tmcmda, run: [sleep, '60'], timeout: 60}\n")
    monkeypatch.setattr(runner, "script_timeout", lambda s: 2)
    monkeypatch.setattr(local, "TEARDOWN_GRACE_S", 0)  # TERM, then KILL at once
    monkeypatch.chdir(tmp_path)
    before = set(run_namespaces("tmcmd"))
    code = cli.main(["run", str(scenario)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "ran longer than 2 s" in out
    # Over, not "still going" (a live run's namespaces are not leftovers to clean_slate).
    assert not set(run_namespaces("tmcmd")) - before, err


def _processes_named(argv0: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == argv0.encode():
                found.append(int(pid))
        except OSError:
            pass
    return found


def stubborn_daemon(marker: str) -> str:
    """A bash script for a command check: it leaves a process named ``marker`` running in a
    session of its own (setsid) that ignores SIGTERM and SIGHUP."""
    return f"setsid bash -c 'trap \"\" TERM HUP; exec -a {marker} sleep 60' </dev/null >/dev/null 2>&1 &"


def test_a_process_that_ignores_sigterm_does_not_outlive_the_run(tmp_path, clean_slate, monkeypatch, capsys):
    """A command check leaves a process in its own session that ignores SIGTERM: tear-down kills
    it (it would keep the deleted namespace alive, out of sight of ip netns and harness clean)."""
    marker = f"nh-stubborn-{secrets.token_hex(4)}"
    scenario = tmp_path / "stub.yaml"
    scenario.write_text(f"""\
name: fault-stub
namespaces: {{stuba: }}
checks:
  - command:
      namespace: stuba
      run: {stubborn_daemon(marker)}
""")
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.main(["run", str(scenario)])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert not _processes_named(marker), "a process that ignores SIGTERM outlived its namespace"
    finally:
        kill_pids(_processes_named(marker))


def test_clean_after_a_killed_run_is_not_stopped_by_what_a_check_left_running(tmp_path, clean_slate):
    """A check leaves a daemon in its own session (setsid); then harness and script are SIGKILLed.
    The daemon does not hold the run's lock (checks run without it), so harness clean sees the run
    is over, kills what is in its namespace and removes it; it used to keep the run "still going"
    for as long as the daemon lived."""
    marker = f"nh-daemon-{secrets.token_hex(4)}"
    scenario = tmp_path / "dmn.yaml"
    scenario.write_text(f"""\
name: fault-dmn
namespaces: {{dmna: }}
steps:
  - checks:
      - command:
          namespace: dmna
          run: {stubborn_daemon(marker)}
  - checks:
      - command: {{namespace: dmna, run: [tail, -f, /dev/null], timeout: 30, exit_code: any}}
""")
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    try:
        wait_for(lambda: "tail" in {comm(pid) for pid in namespace_pids("dmna")}, what="the second step's check")
        [run_id] = {run for name, run in run_ids_of_namespaces().items() if name.endswith("-dmna")}
        session = script_session(harness)
        assert session and _processes_named(marker)
        harness.kill()
        os.killpg(session, signal.SIGKILL)
        harness.communicate(timeout=30)
        clean = run_harness("clean", "--run-id", run_id, cwd=tmp_path)
        assert clean.returncode == 0 and "still going" not in clean.stderr, clean.stdout + clean.stderr
        assert f"removed namespace nh{run_id}-dmna" in clean.stdout, clean.stdout
        wait_for(lambda: not _processes_named(marker), timeout=5, what="the daemon to be killed with its namespace")
    finally:
        kill_pids(_processes_named(marker))


def test_script_timeout_writes_a_bundle_without_checks(tmp_path, clean_slate, monkeypatch, capsys):
    """The script outlives its time: stopped, torn down, ERROR, a bundle with what ran, the checks not run."""
    import harness.runner as runner

    scenario = slow_scenario(tmp_path, "tmout", deadline=5)
    monkeypatch.setattr(runner, "script_timeout", lambda s: 2)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", str(scenario), str(SCENARIOS / "veth-pair.yaml"), "--bundle-dir", "b"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "ran longer than 2 s" in out and "PASS  veth-pair" in out  # the next scenario ran
    results = assert_bundle(tmp_path / "b", "ERROR")
    assert "ran longer" in results["reason"]
    # What came back before the stop is kept: here the step's check had not finished.
    assert results["checks"] and all(c["status"] == "ERROR" and c["reason"].startswith("not run: the script ran longer")
                                     for c in results["checks"])


def test_grace_period_running_out_is_cleaned_up(tmp_path, clean_slate, monkeypatch, capsys):
    """A script that does not stop within the grace period is killed; the harness cleans after it."""
    import harness.runner as runner
    import harness.targets.local as local

    scenario = slow_scenario(tmp_path, "grace", deadline=5)
    monkeypatch.setattr(runner, "script_timeout", lambda s: 2)
    monkeypatch.setattr(local, "TEARDOWN_GRACE_S", 0)  # TERM, then KILL at once
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", str(scenario), "--bundle-dir", "b"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert_one_line_messages(err)
    assert_bundle(tmp_path / "b", "ERROR")


# -- the harness itself is stopped while it renders or writes a bundle ---------------------------


def test_sigterm_while_rendering(tmp_path, clean_slate, monkeypatch, capsys):
    import harness.runner as runner

    real = runner.render

    def render_then_stop(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered here, in the middle of the run
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "render", render_then_stop)
    code = cli.main(["run", str(SCENARIOS / "veth-pair.yaml"), "--bundle-dir", str(tmp_path / "b")])
    out, err = capsys.readouterr()
    assert code == 143, out + err
    assert err.strip().splitlines()[-1] == "harness: stopped by SIGTERM; the run's namespaces were torn down"
    assert not (tmp_path / "b").exists()
    assert signal.getsignal(signal.SIGTERM) is not cli._terminate  # main put the old handler back


def test_sigterm_while_writing_a_bundle_leaves_no_half_bundle(tmp_path, clean_slate, monkeypatch, capsys):
    import harness.bundle as bundle

    def commit_then_stop():
        os.kill(os.getpid(), signal.SIGTERM)
        return None

    monkeypatch.setattr(bundle, "harness_commit", commit_then_stop)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(_failing_text())
    code = cli.main(["run", str(wrong), "--bundle-dir", str(tmp_path / "b")])
    out, err = capsys.readouterr()
    assert code == 143, out + err
    assert list((tmp_path / "b").iterdir()) == []  # the bundle is whole or absent


def _failing_text() -> str:
    return (SCENARIOS / "client-gateway-server.yaml").read_text().replace("ttl: 63", "ttl: 64")


# -- the bundle disk is full ----------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A 16 KiB tmpfs, mounted here and unmounted after: too small for any bundle."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,nr_inodes=64", "nhfault", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_bundle_disk_loses_the_bundle_not_the_run(tmp_path, clean_slate, full_disk):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(_failing_text().replace("name: client-gateway-server", "name: first"))
    second.write_text(_failing_text().replace("name: client-gateway-server", "name: second"))
    run = run_harness("run", str(first), str(second), "--bundle-dir", str(full_disk), "--json", "r.json", cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    assert_one_line_messages(run.stderr)
    for name in ("first", "second"):
        assert f"harness: could not write the bug-report bundle of {name} in {full_disk}: No space left on device" in run.stderr
        assert f"FAIL  {name}" in run.stdout
    assert "0 passed, 2 failed" in run.stdout
    assert list(full_disk.iterdir()) == []  # no half bundle
    assert (tmp_path / "r.json").is_file()  # the results themselves are kept


# -- harness clean ----------------------------------------------------------------------------


def test_clean_removes_namespaces_locks_and_temp_dirs_of_killed_runs(tmp_path, clean_slate):
    scenario = slow_scenario(tmp_path, "kall", deadline=5)
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    run_id = wait_for(lambda: ping_running_in("kalla"), what="the step's ping")
    session = script_session(harness)
    harness.kill()  # the harness and its script both die at once: nothing tears down
    os.killpg(session, signal.SIGKILL)
    harness.communicate(timeout=30)
    time.sleep(0.5)
    left = of_run(leftovers(), run_id)
    assert {item.split()[0] for item in left} == {"namespace", "lock", "temp"}, left
    clean = run_harness("clean", "--run-id", run_id, cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"removed namespace nh{run_id}-kalla" in clean.stdout
    assert f"removed lock /run/netns-harness/{run_id}.lock" in clean.stdout
    assert "removed temp dir " in clean.stdout and f"netns-harness-{run_id}." in clean.stdout
    assert not of_run(leftovers(), run_id)


@pytest.mark.serial
def test_a_fresh_lone_lock_goes_only_when_its_run_is_named(tmp_path, clean_slate):
    """A script killed between removing its temp dir and its lock leaves a fresh lock alone:
    `harness clean` keeps it (a starting run creates its lock a moment before taking it), the
    clean of that one run (the harness's, after the script died) removes it."""
    run_id = secrets.token_hex(3)
    lock = Path("/run/netns-harness") / f"{run_id}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    try:
        every = run_harness("clean", cwd=tmp_path)
        assert every.returncode == 0 and lock.exists(), every.stdout + every.stderr
        one = run_harness("clean", "--run-id", run_id, cwd=tmp_path)
        assert f"removed lock {lock}" in one.stdout, one.stdout + one.stderr
        assert not lock.exists()
    finally:
        lock.unlink(missing_ok=True)


def test_the_clean_after_a_killed_run_waits_for_its_lock_a_moment(tmp_path, clean_slate):
    """What a killed script started may hold its run's lock a moment after the kill: the clean
    after it (cleanup.clean_after) waits for the lock; `harness clean` does not (a live run)."""
    from harness.cleanup import KILLED_RUN_LOCK_WAIT_S
    from harness.render import render_clean
    from harness.targets.local import LocalTarget

    run_id = secrets.token_hex(3)
    namespace, lock = f"nh{run_id}-held", Path("/run/netns-harness") / f"{run_id}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        for wait_s, held_s, removed in ((0, 3, False), (KILLED_RUN_LOCK_WAIT_S, 1, True)):
            holder = subprocess.Popen(["flock", str(lock), "sleep", str(held_s)])
            wait_for(lambda: subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 1, what="the lock held")
            done = LocalTarget().run(render_clean(run_id, lock_wait_s=wait_s), timeout=30)
            holder.wait(timeout=30)
            assert (f"removed namespace {namespace}" in done.stdout) == removed, done.stdout + done.stderr
            assert (f"kept run {run_id}: it is still going" in done.stderr) == (not removed), done.stderr
        assert not lock.exists() and namespace not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                                      text=True).stdout
    finally:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        lock.unlink(missing_ok=True)


@pytest.mark.serial
def test_clean_leaves_a_live_run_alone(tmp_path, clean_slate):
    scenario = slow_scenario(tmp_path, "live", deadline=3)
    harness = start_harness("run", str(scenario), cwd=tmp_path)
    run_id = wait_for(lambda: ping_running_in("livea"), what="the step's ping")
    clean = run_harness("clean", cwd=tmp_path)
    assert f"kept run {run_id}: it is still going" in clean.stderr
    assert f"nh{run_id}-livea" not in clean.stdout
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == 0, out + err


# -- the ssh session is lost --------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield started
    stop_sshd(started)


def _ssh_args(server) -> list[str]:
    return ["--target", f"ssh://root@127.0.0.1:{server.port}", "--identity", server.key,
            "--known-hosts", server.known_hosts]


def test_ssh_session_dropped_during_a_step(tmp_path, clean_slate, server):
    scenario = slow_scenario(tmp_path, "sdrop")
    harness = start_harness("run", str(scenario), "--bundle-dir", "b", *_ssh_args(server), cwd=tmp_path)
    run_id = wait_for(lambda: ping_running_in("sdropa"), what="the step's ping")
    sessions = server.session_processes()
    assert sessions
    kill_pids(sessions)  # the connection is gone; the script lives on, orphaned
    out, err = harness.communicate(timeout=90)
    assert harness.returncode == 2, out + err
    assert "lost" in out and "ERROR fault-sdrop" in out
    assert_one_line_messages(err)
    assert_bundle(tmp_path / "b", "ERROR")
    # The orphan sees the broken pipe at its next write and tears down.
    wait_for(lambda: not of_run(leftovers(), run_id), timeout=30, what="the orphaned script to tear down")


def test_sigterm_during_an_ssh_step_stops_the_remote_script(tmp_path, clean_slate, server):
    scenario = slow_scenario(tmp_path, "sterm", deadline=8)
    harness = start_harness("run", str(scenario), *_ssh_args(server), cwd=tmp_path)
    run_id = wait_for(lambda: ping_running_in("sterma"), what="the step's ping")
    started = time.monotonic()
    os.kill(harness.pid, signal.SIGTERM)
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == 143, out + err
    assert_one_line_messages(err)
    assert time.monotonic() - started < 6  # the remote ping (8 s) was stopped, not waited for
    assert not of_run(leftovers(), run_id)
