"""Helpers for the fault-injection and hostile-input suites: a real sshd on loopback, what a run
can leave behind (namespaces, locks, temp dirs), and waiting for a run to reach a phase."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

NETNS_DIR = Path("/var/run/netns")
LOCK_DIR = Path("/run/netns-harness")
RUN_NAME = re.compile(r"^nh([0-9a-f]{6})-", re.S)


def run_ids_of_namespaces() -> dict[str, str]:
    """Harness namespaces by name (read from the directory: a name may hold a newline) -> run id."""
    if not NETNS_DIR.is_dir():
        return {}
    return {p.name: m.group(1) for p in NETNS_DIR.iterdir() if (m := RUN_NAME.match(p.name))}


def live_runs() -> set[str]:
    """Run ids whose lock is held (read from /proc/locks: taking the lock to test it could make a
    run that is just starting fail). Other runs on this machine (another test session) are live."""
    held = set()  # (major, minor, inode) of every held lock; /proc/locks writes MAJ:MIN in hex
    for line in Path("/proc/locks").read_text().splitlines():
        for field in line.split():
            if field.count(":") == 2:
                major, minor, inode = field.split(":")
                held.add((int(major, 16), int(minor, 16), int(inode)))
    runs = set()
    for lock in LOCK_DIR.glob("*.lock") if LOCK_DIR.is_dir() else []:
        try:
            st = lock.stat()
        except FileNotFoundError:
            continue
        if (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino) in held:
            runs.add(lock.stem)
    return runs


def leftovers() -> set[str]:
    """What runs that are over left on this machine: namespaces, lock files, temp dirs (live runs' are not leftovers)."""
    live = live_runs()
    found = {f"namespace {name!r}" for name, run in run_ids_of_namespaces().items() if run not in live}
    found |= {f"lock {p}" for p in LOCK_DIR.glob("*.lock") if p.stem not in live} if LOCK_DIR.is_dir() else set()
    tmp = {Path(os.environ.get("TMPDIR") or "/tmp"), Path("/tmp")}
    found |= {f"temp dir {p}" for d in tmp for p in d.glob("netns-harness-[0-9a-f]*.??????")
              if re.fullmatch(r"netns-harness-[0-9a-f]{6}\.\w{6}", p.name) and p.name[14:20] not in live}
    return found


def new_leftovers_after(before: set[str], wait_s: float = 10) -> set[str]:
    """Leftovers not in ``before`` that stay ``wait_s`` seconds (another run may own new ones briefly)."""
    deadline = time.monotonic() + wait_s
    while (left := leftovers() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def of_run(items: set[str], run_id: str) -> set[str]:
    """The leftovers of one run."""
    return {item for item in items if run_id in item}


def wait_for(condition: Callable[[], object], timeout: float = 20, what: str = "the condition") -> object:
    """Poll ``condition`` every 20 ms until it returns something true; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def harness_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def start_harness(*args: str, cwd: Path, env: Optional[dict] = None) -> subprocess.Popen:
    """``harness ARGS`` in its own session (so a signal to it is the only one it gets)."""
    return subprocess.Popen(harness_cmd(*args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, **(env or {})})


def run_harness(*args: str, cwd: Path, timeout: float = 120, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    return subprocess.run(harness_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def run_harness_here(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``harness ARGS`` through ``harness.cli.main`` in this process, in ``cwd``: for input that is
    refused before anything runs, the same code and output without the ~0.6 s of CPU a new
    interpreter spends importing the harness. The exit code of an argparse refusal included."""
    import contextlib
    import io

    from harness import cli

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["harness", *args], code, out.getvalue(), err.getvalue())


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def script_session(harness: subprocess.Popen) -> Optional[int]:
    """The session id of the run script the local target started for ``harness`` (its own session)."""
    for pid in descendants(harness.pid):
        if comm(pid) == "bash":
            try:
                sid = os.getsid(pid)
            except ProcessLookupError:
                continue
            if sid == pid and sid != os.getsid(harness.pid):
                return sid
    return None


def namespaces_of_scenario(suffix: str) -> list[str]:
    """Namespaces of any run whose scenario namespace name is ``suffix``."""
    return [name for name in run_ids_of_namespaces() if name.endswith("-" + suffix)]


def ping_running_in(namespace_suffix: str) -> Optional[int]:
    """The run id of a run whose namespace ``*-SUFFIX`` has a process in it (a check is running)."""
    for name, run_id in run_ids_of_namespaces().items():
        if name.endswith("-" + namespace_suffix):
            out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
            if out.strip():
                return run_id
    return None


# -- a real sshd on loopback ----------------------------------------------------------------


@dataclass
class Sshd:
    """sshd on 127.0.0.1:``port`` with its own host key; ``key`` logs in as root."""

    port: int
    key: str
    known_hosts: str
    directory: Path
    proc: subprocess.Popen

    def session_processes(self) -> list[int]:
        """The sshd processes serving connections (not the listener, not what they run)."""
        return [pid for pid in descendants(self.proc.pid) if comm(pid) == "sshd"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(d: Path) -> Sshd:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    port = free_port()
    (d / "sshd_config").write_text(f"""\
ListenAddress 127.0.0.1:{port}
HostKey {d / 'host_key'}
AuthorizedKeysFile {d / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
PidFile {d / 'sshd.pid'}
""")
    subprocess.run(["mkdir", "-p", "/run/sshd"], check=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    host_key = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    return Sshd(port, str(d / "client_key"), str(d / "known_hosts"), d, proc)


def stop_sshd(sshd: Sshd) -> None:
    sshd.proc.terminate()
    try:
        sshd.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sshd.proc.kill()
        sshd.proc.wait()


def kill_pids(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


needs_sshd = pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(),
                                reason="needs openssh-server (apt-get install openssh-server)")
