"""The ssh target against a real sshd started here on loopback, with host key checking on."""

import shutil
import socket
import subprocess
import time

import pytest

from conftest import SCENARIOS, needs_root
from harness.facts import gather_facts
from harness.loader import load_scenario
from harness.runner import run_scenario
from harness.targets import get_target
from harness.targets.base import TargetError
from harness.targets.ssh import SshTarget

pytestmark = [needs_root, pytest.mark.skipif(not shutil.which("sshd", path="/usr/sbin:/usr/bin"),
                                             reason="needs openssh-server (apt-get install openssh-server)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd on 127.0.0.1:PORT with its own host key; yields (port, client key, known_hosts)."""
    d = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    port = _free_port()
    (d / "sshd_config").write_text(f"""\
ListenAddress 127.0.0.1:{port}
HostKey {d / 'host_key'}
AuthorizedKeysFile {d / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {d / 'sshd.pid'}
""")
    subprocess.run(["mkdir", "-p", "/run/sshd"], check=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    host_key = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    yield port, str(d / "client_key"), str(d / "known_hosts")
    proc.terminate()
    proc.wait(timeout=10)


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
