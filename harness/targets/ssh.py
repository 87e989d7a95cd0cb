"""The ``ssh`` target: scripts run as root (``sudo -n``) on a Linux host over one SSH connection.

One paramiko connection is reused for every script; each script costs one channel
(``bash -s`` on stdin: a single round trip). A dead peer is noticed by TCP keepalive
and ``TCP_USER_TIMEOUT`` on the socket, so a VM that dies mid-run gives ``TargetError``
within seconds instead of hanging until the script's deadline.

``ssh://[user@]host[:port]`` is read with the user's OpenSSH client config
(``~/.ssh/config``, parsed by paramiko's ``SSHConfig``) as ``ssh`` reads it: ``host`` may be a
``Host`` alias, and ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``IdentitiesOnly``,
``UserKnownHostsFile``, ``ConnectTimeout``, ``ProxyJump`` (each jump host read with the
config too) and ``ProxyCommand`` apply. What the command line gives (``user@``, ``:port``,
``--identity``, ``--known-hosts``) wins over the config, as with ``ssh``. Without a user
anywhere the harness logs in as root (``ssh`` would use the local user name).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import select
import shlex
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import urlsplit

import paramiko

from harness.targets.base import ExecResult, Target, TargetError

# paramiko logs a failed handshake's traceback from its transport thread; with no handler,
# Python's last-resort handler would print it on stderr. The TargetError says it in one line.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

CONNECT_TIMEOUT_S = 20
# The far side's `timeout` kills the script this long after its deadline if TERM is ignored.
KILL_AFTER_S = 10
# Dead-peer detection: first probe after 5 s idle, then every 2 s, give up after 3 misses;
# unacknowledged data gives up after 15 s.
TCP_KEEPALIVE = (5, 2, 3)
TCP_USER_TIMEOUT_MS = 15000
DEFAULT_SSH_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
MAX_JUMPS = 8
# How long the remote script's trap gets to tear down after Ctrl-C or SIGTERM (seconds).
TEARDOWN_GRACE_S = 15
# The first stderr line of every script run: the remote shell's pid (taken out of the result).
PID_TAG = "netns-harness-pid="
# What a user and a host in ssh://USER@HOST may be (a Host alias of the ssh config is a host).
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")
HOST_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")


@dataclass(frozen=True)
class Hop:
    """One SSH server on the way to the target: where it is, who logs in, with which keys.

    ``name`` is the host as written (a ``Host`` alias or an address), for messages.
    """

    name: str
    host: str
    port: int = 22
    user: str = "root"
    identities: tuple[str, ...] = ()
    identities_only: bool = False

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _port(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise TargetError(f"{what}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def parse_destination(text: str, what: str) -> tuple[Optional[str], str, Optional[int]]:
    """``[ssh://][user@]host[:port]`` (``[v6addr]:port`` too) -> ``(user, host, port)``; None where not given.

    Raises ``TargetError`` naming ``what`` (the option it came from) for a malformed one.
    """
    # urlsplit drops tabs and newlines (as browsers do): "ro\not" would log in as "root".
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise TargetError(f"{what}: {text!r} has a control character: write ssh://[user@]host[:port] on one line")
    spec = text if text.startswith("ssh://") else f"ssh://{text}"
    try:
        parts = urlsplit(spec)
        host = parts.hostname
        raw_port = parts.netloc.rpartition("@")[2]
        raw_port = raw_port.rpartition("]")[2] if raw_port.startswith("[") else raw_port
        raw_port = raw_port.partition(":")[2] if ":" in raw_port else None
    except ValueError as exc:
        raise TargetError(f"{what}: {text!r} is not [user@]host[:port] ({exc})") from None
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment or parts.password is not None:
        raise TargetError(f"{what}: {text!r} is not ssh://[user@]host[:port]")
    port = _port(raw_port, f"{what} {text!r}") if raw_port is not None else None
    user = parts.username
    if user == "":
        raise TargetError(f"{what}: {text!r} has an empty user name before '@': give one, or leave out the '@'")
    # As OpenSSH's ssh refuses them (since 9.6): no shell characters, no leading '-' (an option).
    if user is not None and not USER_RE.fullmatch(user):
        raise TargetError(f"{what}: {text!r}: {user!r} is not a user name: use letters, digits, '_', '.' and '-', "
                          "not first '-'")
    if not (HOST_RE.fullmatch(host) or _is_ipv6(host)):
        raise TargetError(f"{what}: {text!r}: {host!r} is not a host name or address: use letters, digits, '.', "
                          "'-' and '_', not first '-' (or an [IPv6] address)")
    return user, host, port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def load_ssh_config(path: Optional[str]) -> paramiko.SSHConfig:
    """The OpenSSH client config at ``path`` (default ``~/.ssh/config``; a missing default is empty).

    Raises ``TargetError`` when a file given explicitly is missing or cannot be parsed.
    """
    file = Path(os.path.expanduser(path or DEFAULT_SSH_CONFIG))
    if not file.exists():
        if path:
            raise TargetError(f"--ssh-config {path}: no such file")
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(file))
    except (OSError, ValueError, paramiko.SSHException, ImportError) as exc:
        raise TargetError(f"cannot read the ssh config {file}: {exc}") from None


def resolve_hops(config: paramiko.SSHConfig, name: str, *, user: Optional[str] = None, port: Optional[int] = None,
                 identity: Sequence[str] = (), depth: int = 0) -> tuple[list[Hop], Optional[str]]:
    """The hops to reach ``name``: its ``ProxyJump`` hosts first (recursively), the host itself last.

    Returns ``(hops, proxy_command)``: the ``ProxyCommand`` that opens the first hop's
    connection, or None. Raises ``TargetError`` on a malformed value or a jump loop.
    """
    if depth > MAX_JUMPS:
        raise TargetError(f"ProxyJump: more than {MAX_JUMPS} jump hosts (a loop in the ssh config?)")
    try:
        entry = config.lookup(name)
    except Exception as exc:  # paramiko raises several kinds for Match/token problems
        raise TargetError(f"the ssh config cannot be applied to {name!r}: {exc}") from None
    identities = [os.path.expanduser(p) for p in identity]
    identities += [p for p in (os.path.expanduser(p) for p in entry.get("identityfile", [])) if os.path.exists(p)]
    hop = Hop(
        name=name,
        host=entry.get("hostname", name),
        port=port or _port(entry.get("port", "22"), f"ssh config Port for {name!r}"),
        user=user or entry.get("user") or "root",
        identities=tuple(dict.fromkeys(identities)),
        identities_only=entry.get("identitiesonly", "no").lower() == "yes",
    )
    jumps = entry.get("proxyjump", "none")
    if jumps.lower() != "none":
        hops: list[Hop] = []
        command = None
        for index, jump in enumerate(jumps.split(",")):
            jump_user, jump_host, jump_port = parse_destination(jump.strip(), f"ProxyJump of {name!r}")
            if jump_host == name:
                raise TargetError(f"ProxyJump of {name!r} names the host itself")
            more, jump_command = resolve_hops(config, jump_host, user=jump_user, port=jump_port, depth=depth + 1)
            hops += more
            command = command or (jump_command if index == 0 else None)
        return hops + [hop], command
    command = entry.get("proxycommand")
    return [hop], None if command is None or command.lower() == "none" else command


def _socket(host: str, port: int, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise TargetError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle, interval, count = TCP_KEEPALIVE
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count),
                        ("TCP_USER_TIMEOUT", TCP_USER_TIMEOUT_MS)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    return sock


def _partial(out: bytearray, err: bytearray, start: float) -> ExecResult:
    """What a script printed before the connection was lost or given up on (exit code -1)."""
    stderr = re.sub(rf"^{PID_TAG}\d+\n", "", err.decode(errors="replace"), count=1)
    return ExecResult(-1, out.decode(errors="replace"), stderr, time.monotonic() - start)


class SshTarget(Target):
    """Runs scripts on ``user@host:port`` over SSH, through ``jumps`` (``ProxyJump``) if any.

    Host keys are checked against ``known_hosts`` (one file or several; default
    ``~/.ssh/known_hosts``) for every hop; an unknown or changed key raises ``TargetError``.
    ``insecure=True`` skips the check and is meant only for a VM the harness has just created
    (the Vagrant target). ``connect_timeout`` (seconds) bounds the TCP connect, the SSH
    banner, the key exchange and the authentication of each hop.
    """

    name = "ssh"

    def __init__(
        self,
        host: str,
        *,
        port: int = 22,
        user: str = "root",
        identity: Optional[list[str]] = None,
        known_hosts: Optional[str | list[str]] = None,
        insecure: bool = False,
        jumps: Sequence[Hop] = (),
        proxy_command: Optional[str] = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        identities_only: bool = False,
    ):
        self.hop = Hop(host, host, port, user, tuple(os.path.expanduser(p) for p in identity or []), identities_only)
        self.host, self.port, self.user = host, port, user
        self.identity = list(self.hop.identities)
        files = [known_hosts] if isinstance(known_hosts, str) else list(known_hosts or [DEFAULT_KNOWN_HOSTS])
        self.known_hosts_files = [os.path.expanduser(f) for f in files]
        self.known_hosts = self.known_hosts_files[0]
        self.insecure = insecure
        self.jumps = list(jumps)
        self.proxy_command = proxy_command
        self.connect_timeout = connect_timeout
        self._client: Optional[paramiko.SSHClient] = None
        self._jump_clients: list[paramiko.SSHClient] = []

    @classmethod
    def from_spec(cls, spec: str, *, identity: Optional[str] = None, known_hosts: Optional[str] = None,
                  ssh_config: Optional[str] = None, **_ignored) -> "SshTarget":
        """Build from ``ssh://[user@]host[:port]`` and the OpenSSH client config (see the module doc).

        Raises ``TargetError`` on a malformed spec, port or config.
        """
        if not spec.startswith("ssh://"):
            raise TargetError(f"bad ssh target {spec!r}: write it as ssh://user@host[:port]")
        user, host, port = parse_destination(spec, "--target")
        config = load_ssh_config(ssh_config)
        hops, proxy_command = resolve_hops(config, host, user=user, port=port, identity=[identity] if identity else [])
        final = hops[-1]
        entry = config.lookup(host)
        if known_hosts:
            files: list[str] = [known_hosts]
        elif entry.get("userknownhostsfile"):
            files = shlex.split(entry["userknownhostsfile"])
        else:
            files = [DEFAULT_KNOWN_HOSTS]
        timeout = entry.get("connecttimeout")
        return cls(final.host, port=final.port, user=final.user, identity=list(final.identities), known_hosts=files,
                   jumps=hops[:-1], proxy_command=proxy_command, identities_only=final.identities_only,
                   connect_timeout=float(timeout) if timeout and timeout.isdigit() else CONNECT_TIMEOUT_S)

    @property
    def where(self) -> str:
        return self.hop.where

    # -- connecting ---------------------------------------------------------------------

    def _connect(self) -> paramiko.SSHClient:
        if self._client is not None and self._client.get_transport() and self._client.get_transport().is_active():
            return self._client
        self.close()
        clients: list[paramiko.SSHClient] = []
        try:
            for hop in [*self.jumps, self.hop]:
                clients.append(self._handshake(hop, self._open(hop, clients[-1] if clients else None)))
        except BaseException:
            for client in reversed(clients):
                client.close()
            raise
        self._jump_clients, self._client = clients[:-1], clients[-1]
        return self._client

    def _open(self, hop: Hop, through: Optional[paramiko.SSHClient]):
        """A byte stream to ``hop``: a TCP socket, the ProxyCommand, or a channel of the previous hop."""
        if through is not None:
            try:
                return through.get_transport().open_channel(
                    "direct-tcpip", (hop.host, hop.port), ("127.0.0.1", 0), timeout=self.connect_timeout)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise TargetError(f"the jump host could not reach {hop.host}:{hop.port}: {exc or type(exc).__name__}") from None
        if self.proxy_command:
            try:
                return paramiko.ProxyCommand(self.proxy_command)
            except (paramiko.SSHException, OSError) as exc:
                raise TargetError(f"ProxyCommand {self.proxy_command!r} failed: {exc}") from None
        return _socket(hop.host, hop.port, self.connect_timeout)

    def _handshake(self, hop: Hop, sock) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        if self.insecure:
            # Only for a VM we just created: its host key is new by definition.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:
            for file in self.known_hosts_files:
                if Path(file).exists():
                    try:
                        client.load_system_host_keys(file)
                    except (OSError, paramiko.SSHException, ValueError) as exc:
                        client.close()
                        raise TargetError(f"cannot read known_hosts file {file}: {exc}") from None
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        timeout = self.connect_timeout
        try:
            client.connect(
                hop.host, port=hop.port, username=hop.user, sock=sock,
                key_filename=list(hop.identities) or None, look_for_keys=not hop.identities and not hop.identities_only,
                allow_agent=not hop.identities, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise TargetError(
                f"the host key of {hop.host}:{hop.port} differs from the one in {self.known_hosts} "
                f"(got {exc.key.get_name()} {exc.key.fingerprint}): if the host was reinstalled, remove the "
                f"old line with ssh-keygen -R '[{hop.host}]:{hop.port}'"
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            keys = ", ".join(hop.identities) or "the default keys and the agent"
            raise TargetError(f"ssh to {hop.where}: authentication failed ({exc}; tried {keys})") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            transport = client.get_transport()
            banner = getattr(transport, "remote_version", "") if transport else ""
            client.close()
            if "not found in known_hosts" in str(exc):
                raise TargetError(
                    f"{hop.host}:{hop.port} is not in {self.known_hosts}, so its host key cannot be checked: "
                    f"verify its fingerprint and add it (ssh-keyscan -p {hop.port} {hop.host} >> {self.known_hosts}), "
                    "or pass --known-hosts FILE"
                ) from None
            if not banner:
                raise TargetError(f"ssh to {hop.where}: no SSH server answered within {timeout:g} s "
                                  "(something listens on that port but sent no SSH banner)") from None
            raise TargetError(f"ssh to {hop.where}: the server sent its banner ({banner}) but the SSH handshake "
                              f"did not complete within {timeout:g} s ({exc or type(exc).__name__})") from None
        transport = client.get_transport()
        transport.set_keepalive(5)
        return client

    # -- running ------------------------------------------------------------------------

    def _command(self, timeout: float) -> str:
        # The shell says its pid (then execs `timeout`, keeping it), so Ctrl-C can stop the script.
        inner = f"echo {PID_TAG}$$ >&2; exec timeout -k {KILL_AFTER_S} {int(timeout)} bash -s"
        return f"{self._sudo}sh -c {shlex.quote(inner)}"

    @property
    def _sudo(self) -> str:
        return "" if self.user == "root" else "sudo -n "

    def run(self, script: str, *, timeout: float) -> ExecResult:
        """Send ``script`` to ``bash -s`` as root and collect its output.

        The far side's ``timeout`` stops it after ``timeout`` seconds; locally we give up
        ``KILL_AFTER_S`` later. Raises ``TargetError`` on a lost connection, a dead peer,
        a local timeout, or sudo asking for a password. On ``KeyboardInterrupt`` (Ctrl-C,
        SIGTERM, SIGHUP in the CLI) the remote script gets SIGTERM, so its trap tears down,
        and is given ``TEARDOWN_GRACE_S`` to finish before the interrupt goes on.
        """
        start = time.monotonic()
        client = self._connect()
        out, err = bytearray(), bytearray()
        try:
            channel = client.get_transport().open_session()
            channel.exec_command(self._command(timeout))
            try:
                channel.sendall(script.encode())
                channel.shutdown_write()
                self._drain(channel, start + timeout + KILL_AFTER_S + 5, out, err)
            except KeyboardInterrupt:
                self._stop_remote(channel, err)
                raise
            exit_code = channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise TargetError(f"connection to {self.where} lost during the run: {exc or type(exc).__name__}",
                              partial=_partial(out, err, start)) from None
        except TargetError as exc:
            exc.partial = exc.partial or _partial(out, err, start)  # what came before the loss
            raise
        if exit_code == -1:
            self.close()
            raise TargetError(f"connection to {self.where} lost: the script's exit status never came")
        stderr = re.sub(rf"^{PID_TAG}\d+\n", "", err.decode(errors="replace"), count=1)
        if exit_code == 1 and stderr.startswith("sudo:"):
            raise TargetError(f"sudo on {self.where} needs a password: allow {self.user} passwordless sudo ({stderr.strip()})")
        return ExecResult(exit_code, out.decode(errors="replace"), stderr, time.monotonic() - start)

    def _stop_remote(self, channel: paramiko.Channel, err: bytearray) -> None:
        """SIGTERM the remote script (through its ``timeout``) and wait for it to tear down, briefly."""
        pid = re.match(rf"{PID_TAG}(\d+)\n".encode(), bytes(err))
        try:
            if pid:
                stopper = channel.get_transport().open_session(timeout=5)
                stopper.exec_command(f"{self._sudo}kill -TERM {int(pid.group(1))}")
            give_up_at = time.monotonic() + TEARDOWN_GRACE_S
            while not channel.exit_status_ready() and time.monotonic() < give_up_at:
                select.select([channel], [], [], 0.5)
                while channel.recv_ready():
                    channel.recv(65536)
                while channel.recv_stderr_ready():
                    channel.recv_stderr(65536)
        except (paramiko.SSHException, OSError, EOFError, TargetError):
            pass  # the connection is gone: the script sees a broken pipe and tears down by itself

    def _drain(self, channel: paramiko.Channel, give_up_at: float, out: bytearray, err: bytearray) -> None:
        """Read stdout and stderr together into ``out``/``err`` until the command exits (no deadlock on large output)."""
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

    def describe(self) -> dict:
        return {"target": "ssh", "host": self.host, "port": self.port, "user": self.user}

    def login_hint(self) -> str:
        jumps = f" -J {','.join(f'{j.user}@{j.host}:{j.port}' for j in self.jumps)}" if self.jumps else ""
        return f"ssh -p {self.port}{jumps} {shlex.quote(self.user)}@{shlex.quote(self.host)}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        for client in reversed(self._jump_clients):
            client.close()
        self._jump_clients = []
