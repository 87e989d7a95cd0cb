"""The ssh target against a real sshd started here on loopback, with host key checking on."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import SCENARIOS, needs_root
from faultkit import start_sshd, stop_sshd
from harness.facts import gather_facts
from harness.loader import load_scenario
from harness.runner import run_scenario
from harness.targets import get_target
from harness.targets.base import TargetError
from harness.targets.ssh import SshTarget

pytestmark = [needs_root, pytest.mark.skipif(not shutil.which("sshd", path="/usr/sbin:/usr/bin"),
                                             reason="needs openssh-server (apt-get install openssh-server)")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """sshd on 127.0.0.1:PORT with its own host key (tests/faultkit.py)."""
    started = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield started
    stop_sshd(started)


@pytest.fixture(scope="module")
def sshd(server):
    """(port, client key, known_hosts) of the module's sshd."""
    return server.port, server.key, server.known_hosts


def test_scenarios_run_over_ssh_with_host_key_checked(sshd, no_leftovers):
    port, key, known_hosts = sshd
    with get_target(f"ssh://root@127.0.0.1:{port}", identity=key, known_hosts=known_hosts) as target:
        facts = gather_facts(target)
        result = run_scenario(load_scenario(SCENARIOS / "client-gateway-server.yaml"), target, facts=facts)
        assert result.status == "PASS", [(c.name, c.reason) for c in result.failed_checks]
        hop = next(c for c in result.checks if c.name == "client reaches server through one hop")
        assert hop.observed["ttl"] == [63]
        # The connection is reused: a second scenario needs no new handshake.
        transport = target._client.get_transport()
        assert run_scenario(load_scenario(SCENARIOS / "veth-pair.yaml"), target, facts=facts).status == "PASS"
        assert target._client.get_transport() is transport


def test_unknown_host_key_is_refused(sshd, tmp_path):
    port, key, _ = sshd
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TargetError, match=r"is not in .*known_hosts.*ssh-keyscan"):
        SshTarget("127.0.0.1", port=port, identity=[key], known_hosts=str(empty)).run("true", timeout=10)


def test_changed_host_key_is_refused(sshd, tmp_path):
    port, key, _ = sshd
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {other[0]} {other[1]}\n")
    with pytest.raises(TargetError, match="differs from the one in"):
        SshTarget("127.0.0.1", port=port, identity=[key], known_hosts=str(known)).run("true", timeout=10)


def test_large_output_on_both_streams_does_not_deadlock(sshd):
    port, key, known_hosts = sshd
    with SshTarget("127.0.0.1", port=port, identity=[key], known_hosts=known_hosts) as target:
        script = "head -c 3000000 /dev/zero | tr '\\0' o; head -c 3000000 /dev/zero | tr '\\0' e >&2; exit 3"
        result = target.run(script, timeout=60)
    assert result.exit_code == 3
    assert len(result.stdout) == 3000000 and len(result.stderr) == 3000000


def test_remote_deadline_is_enforced(sshd):
    port, key, known_hosts = sshd
    with SshTarget("127.0.0.1", port=port, identity=[key], known_hosts=known_hosts) as target:
        start = time.monotonic()
        result = target.run("sleep 30", timeout=1)
    assert result.exit_code == 124  # coreutils timeout's code for "timed out"
    assert time.monotonic() - start < 10


# -- ~/.ssh/config, read as OpenSSH reads it ----------------------------------------------


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return str(path)


def test_host_alias_from_ssh_config(server, tmp_path, no_leftovers):
    config = _config(tmp_path, f"""\
Host lab
  HostName 127.0.0.1
  Port {server.port}
  User root
  IdentityFile {server.key}
  UserKnownHostsFile {server.known_hosts}
""")
    with get_target("ssh://lab", ssh_config=config) as target:
        assert (target.host, target.port, target.user, target.identity) == ("127.0.0.1", server.port, "root", [server.key])
        result = target.run("echo $((6 * 7)); id -u", timeout=30)
        assert result.stdout.split() == ["42", "0"] and result.stderr == ""
        facts = gather_facts(target)
        assert run_scenario(load_scenario(SCENARIOS / "veth-pair.yaml"), target, facts=facts).status == "PASS"


def test_command_line_wins_over_ssh_config(server, tmp_path):
    config = _config(tmp_path, f"""\
Host lab
  HostName 127.0.0.1
  Port 1
  User nobody
  IdentityFile /nonexistent/key
""")
    target = get_target(f"ssh://root@lab:{server.port}", ssh_config=config, identity=server.key,
                        known_hosts=server.known_hosts)
    assert (target.port, target.user, target.identity) == (server.port, "root", [server.key])
    with target:
        assert target.run("true", timeout=30).exit_code == 0


def test_default_config_is_home_ssh_config(server, tmp_path):
    """No --ssh-config: ~/.ssh/config of $HOME is read, as ssh does."""
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(
        f"Host lab\n  HostName 127.0.0.1\n  Port {server.port}\n  IdentityFile {server.key}\n")
    out = subprocess.run(
        [sys.executable, "-c", "from harness.targets import get_target; t = get_target('ssh://lab'); "
                               "print(t.host, t.port, t.user, t.identity[0], t.known_hosts)"],
        capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)}, check=True)
    assert out.stdout.split() == ["127.0.0.1", str(server.port), "root", server.key,
                                  str(tmp_path / ".ssh" / "known_hosts")]


def test_proxy_jump_through_a_real_jump_host(server, tmp_path, no_leftovers):
    """ProxyJump: the harness logs in to the jump host, then through it (direct-tcpip) to the target.

    Both are the loopback sshd; each hop's host key is checked, and the jump host's own
    config (its alias, port, key) applies to it.
    """
    config = _config(tmp_path, f"""\
Host bastion
  HostName 127.0.0.1
  Port {server.port}
  User root
  IdentityFile {server.key}
Host lab
  HostName 127.0.0.1
  Port {server.port}
  IdentityFile {server.key}
  ProxyJump bastion
""")
    with get_target("ssh://lab", ssh_config=config, known_hosts=server.known_hosts) as target:
        assert [(j.host, j.port, j.user) for j in target.jumps] == [("127.0.0.1", server.port, "root")]
        result = target.run("echo through; echo $SSH_CONNECTION", timeout=30)
        assert result.stdout.splitlines()[0] == "through"
        jump_transport = target._jump_clients[0].get_transport()
        assert jump_transport.is_active()
        # The target's connection is a channel of the jump host's connection, not a TCP socket.
        assert target._client.get_transport().sock.get_transport() is jump_transport
        assert "-J root@127.0.0.1" in target.login_hint()
    assert target._jump_clients == [] and target._client is None


def test_proxy_jump_host_key_is_checked(server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = _config(tmp_path, f"""\
Host lab
  HostName 127.0.0.1
  Port {server.port}
  IdentityFile {server.key}
  ProxyJump root@127.0.0.1:{server.port}
""")
    with pytest.raises(TargetError, match=r"127\.0\.0\.1:\d+ is not in .*known_hosts"):
        get_target("ssh://lab", ssh_config=config, known_hosts=str(empty), identity=server.key).run("true", timeout=10)


def test_proxy_command_from_ssh_config(server, tmp_path):
    config = _config(tmp_path, f"""\
Host lab
  HostName 127.0.0.1
  Port {server.port}
  IdentityFile {server.key}
  ProxyCommand {shutil.which('python3')} -c "import socket,sys,threading; s=socket.create_connection(('%h', %p)); threading.Thread(target=lambda: [sys.stdout.buffer.write(b) or sys.stdout.flush() for b in iter(lambda: s.recv(65536), b'')], daemon=True).start(); [s.sendall(b) for b in iter(lambda: sys.stdin.buffer.read1(65536), b'')]"
""")
    with get_target("ssh://lab", ssh_config=config, known_hosts=server.known_hosts) as target:
        assert target.run("echo via-proxy-command", timeout=30).stdout == "via-proxy-command\n"


@pytest.mark.parametrize("text, message", [
    ("Host lab\n  Port notaport\n", r"port 'notaport' is not a number"),
    ("Host lab\n  ProxyJump lab\n", r"names the host itself"),
    ("Host lab\n  ProxyJump a\nHost a\n  ProxyJump b\nHost b\n  ProxyJump a\n", r"more than 8 jump hosts"),
    ("Host lab\n  ProxyJump bad:port:x\n", r"ProxyJump of 'lab'"),
])
def test_bad_ssh_config_is_one_line_error(tmp_path, text, message):
    with pytest.raises(TargetError, match=message):
        get_target("ssh://lab", ssh_config=_config(tmp_path, text))


def test_missing_ssh_config_given_explicitly(tmp_path):
    with pytest.raises(TargetError, match="no such file"):
        get_target("ssh://lab", ssh_config=str(tmp_path / "nope"))
