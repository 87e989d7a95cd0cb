"""The ``ssh`` target: scripts run as root (``sudo -n``) on a Linux host over one SSH connection.

One paramiko connection is reused for every script; each script costs one channel
(``bash -s`` on stdin: a single round trip). A dead peer is noticed by TCP keepalive
and ``TCP_USER_TIMEOUT`` on the socket, so a VM that dies mid-run gives ``TargetError``
within seconds instead of hanging until the script's deadline.
"""

from __future__ import annotations

import os
import select
import shlex
import socket
import time
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import paramiko

from harness.targets.base import ExecResult, Target, TargetError

CONNECT_TIMEOUT_S = 20
# The far side's `timeout` kills the script this long after its deadline if TERM is ignored.
KILL_AFTER_S = 10
# Dead-peer detection: first probe after 5 s idle, then every 2 s, give up after 3 misses;
# unacknowledged data gives up after 15 s.
TCP_KEEPALIVE = (5, 2, 3)
TCP_USER_TIMEOUT_MS = 15000


def _socket(host: str, port: int) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise TargetError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle, interval, count = TCP_KEEPALIVE
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count),
                        ("TCP_USER_TIMEOUT", TCP_USER_TIMEOUT_MS)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    return sock


class SshTarget(Target):
    """Runs scripts on ``user@host:port`` over SSH.

    Host keys are checked against ``known_hosts`` (default ``~/.ssh/known_hosts``); an
    unknown or changed key raises ``TargetError``. ``insecure=True`` skips the check and is
    meant only for a VM the harness has just created (the Vagrant target).
    """

    name = "ssh"

    def __init__(
        self,
        host: str,
        *,
        port: int = 22,
        user: str = "root",
        identity: Optional[list[str]] = None,
        known_hosts: Optional[str] = None,
        insecure: bool = False,
    ):
        self.host, self.port, self.user = host, port, user
        self.identity = [os.path.expanduser(p) for p in identity or []]
        self.known_hosts = os.path.expanduser(known_hosts or "~/.ssh/known_hosts")
        self.insecure = insecure
        self._client: Optional[paramiko.SSHClient] = None

    @classmethod
    def from_spec(cls, spec: str, *, identity: Optional[str] = None, known_hosts: Optional[str] = None,
                  **_ignored) -> "SshTarget":
        """Build from ``ssh://user@host[:port]``. Raises ``TargetError`` on a malformed spec."""
        parts = urlsplit(spec)
        if parts.scheme != "ssh" or not parts.hostname:
            raise TargetError(f"bad ssh target {spec!r}: write it as ssh://user@host[:port]")
        return cls(parts.hostname, port=parts.port or 22, user=parts.username or "root",
                   identity=[identity] if identity else None, known_hosts=known_hosts)

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def _connect(self) -> paramiko.SSHClient:
        if self._client is not None and self._client.get_transport() and self._client.get_transport().is_active():
            return self._client
        self.close()
        client = paramiko.SSHClient()
        if self.insecure:
            # Only for a VM we just created: its host key is new by definition.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:
            if Path(self.known_hosts).exists():
                client.load_host_keys(self.known_hosts)
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.host, port=self.port, username=self.user, sock=_socket(self.host, self.port),
                key_filename=self.identity or None, look_for_keys=not self.identity,
                allow_agent=not self.identity, timeout=CONNECT_TIMEOUT_S, banner_timeout=CONNECT_TIMEOUT_S,
                auth_timeout=CONNECT_TIMEOUT_S,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise TargetError(
                f"the host key of {self.host}:{self.port} differs from the one in {self.known_hosts} "
                f"(got {exc.key.get_name()} {exc.key.fingerprint}): if the host was reinstalled, remove the "
                f"old line with ssh-keygen -R '[{self.host}]:{self.port}'"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise TargetError(
                    f"{self.host}:{self.port} is not in {self.known_hosts}, so its host key cannot be checked: "
                    f"verify its fingerprint and add it (ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts}), "
                    "or pass --known-hosts FILE"
                ) from None
            raise TargetError(f"ssh to {self.where} failed: {exc}") from None
        except OSError as exc:
            client.close()
            raise TargetError(f"ssh to {self.where} failed: {exc}") from None
        transport = client.get_transport()
        transport.set_keepalive(5)
        self._client = client
        return client

    def _command(self, timeout: float) -> str:
        deadline = f"timeout -k {KILL_AFTER_S} {int(timeout)}"
        prefix = "" if self.user == "root" else "sudo -n "
        return f"{prefix}{deadline} bash -s"

    def run(self, script: str, *, timeout: float) -> ExecResult:
        """Send ``script`` to ``bash -s`` as root and collect its output.

        The far side's ``timeout`` stops it after ``timeout`` seconds; locally we give up
        ``KILL_AFTER_S`` later. Raises ``TargetError`` on a lost connection, a dead peer,
        a local timeout, or sudo asking for a password.
        """
        start = time.monotonic()
        client = self._connect()
        try:
            channel = client.get_transport().open_session()
            channel.exec_command(self._command(timeout))
            channel.sendall(script.encode())
            channel.shutdown_write()
            stdout, stderr = self._drain(channel, start + timeout + KILL_AFTER_S + 5)
            exit_code = channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise TargetError(f"connection to {self.where} lost during the run: {exc or type(exc).__name__}") from None
        if exit_code == -1:
            self.close()
            raise TargetError(f"connection to {self.where} lost: the script's exit status never came")
        if exit_code == 1 and stderr.startswith("sudo:"):
            raise TargetError(f"sudo on {self.where} needs a password: allow {self.user} passwordless sudo ({stderr.strip()})")
        return ExecResult(exit_code, stdout, stderr, time.monotonic() - start)

    def _drain(self, channel: paramiko.Channel, give_up_at: float) -> tuple[str, str]:
        """Read stdout and stderr together until the command exits (no deadlock on large output)."""
        out, err = bytearray(), bytearray()
        while True:
            while channel.recv_ready():
                out += channel.recv(65536)
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            # EOF comes after the last byte of both streams; the exit status alone may come earlier.
            if (channel.eof_received and channel.exit_status_ready()
                    and not channel.recv_ready() and not channel.recv_stderr_ready()):
                break
            transport = channel.get_transport()
            if transport is None or not transport.is_active():
                raise TargetError(f"connection to {self.where} lost during the run (the host or VM went away)")
            if time.monotonic() > give_up_at:
                channel.close()
                raise TargetError(f"{self.where} did not finish the script in time: the host or VM stopped answering")
            select.select([channel], [], [], 0.5)
        return out.decode(errors="replace"), err.decode(errors="replace")

    def describe(self) -> dict:
        return {"target": "ssh", "host": self.host, "port": self.port, "user": self.user}

    def login_hint(self) -> str:
        return f"ssh -p {self.port} {shlex.quote(self.user)}@{shlex.quote(self.host)}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
