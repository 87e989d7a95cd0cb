"""The ``vagrant`` target: a disposable VM from the repository's ``Vagrantfile``, driven over SSH.

Lifecycle: prerequisites are checked first (vagrant, provider plugin, libvirt daemon,
box), ``vagrant up`` streams its progress, scripts run through ``SshTarget`` (one
connection, parameters from ``vagrant ssh-config`` read with paramiko's ``SSHConfig``),
and ``close`` destroys the VM per the destroy policy. Each box gets its own machine
directory (``VAGRANT_DOTFILE_PATH``) and libvirt domain name, so VMs of different
boxes can live side by side.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

import paramiko
import vagrant

from harness import resources
from harness.targets.base import ExecResult, Target, TargetError
from harness.targets.ssh import SshTarget

DEFAULT_BOX = "debian/bookworm64"
DESTROY_POLICIES = ("always", "passing", "never")


def box_slug(box: str) -> str:
    """A name safe for paths and libvirt domains: ``netns-harness/bookworm-6.1`` -> ``netns-harness-bookworm-6.1``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", box).strip("-")


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


class VagrantTarget(Target):
    """A VM booted from ``box`` (default ``$HARNESS_BOX`` or ``debian/bookworm64``).

    ``box_kernel`` (or ``$HARNESS_BOX_KERNEL``): a Debian kernel package; the box is built
    locally with ``harness.box.build_box`` (a cache hit when built before) and used.
    ``destroy``: ``always``, ``passing`` (default: keep the VM when a check failed, and say
    how to log in) or ``never``. ``reuse``: run on the VM that is already up for this box.
    Raises ``TargetError`` (from ``run``) with an actionable message when a prerequisite is
    missing, the VM cannot come up, or it dies.
    """

    name = "vagrant"
    disposable = True

    def __init__(
        self,
        box: Optional[str] = None,
        box_kernel: Optional[str] = None,
        destroy: Optional[str] = None,
        reuse: Optional[bool] = None,
        provider: Optional[str] = None,
        vagrant_dir: Optional[str] = None,
        progress: Optional[Callable[[str], None]] = None,
        **_ignored,
    ):
        self.box_kernel = box_kernel or os.environ.get("HARNESS_BOX_KERNEL") or None
        if box and self.box_kernel:
            raise TargetError("give --box or --box-kernel, not both")
        self.destroy_policy = destroy or os.environ.get("HARNESS_DESTROY") or "passing"
        if self.destroy_policy not in DESTROY_POLICIES:
            raise TargetError(f"--destroy {self.destroy_policy!r}: use one of {', '.join(DESTROY_POLICIES)}")
        self.reuse = bool(reuse)
        self.provider = provider or os.environ.get("VAGRANT_DEFAULT_PROVIDER") or None
        # A project's own Vagrantfile (in the current directory) wins over the packaged one.
        self.root = Path(vagrant_dir or os.environ.get("HARNESS_VAGRANT_DIR") or resources.vagrant_dir())
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
        if self.box_kernel:
            self.provider = self.provider or "libvirt"
        self._use_box(box or os.environ.get("HARNESS_BOX") or DEFAULT_BOX)
        self._ssh: Optional[SshTarget] = None
        self._created = False
        self._passed: Optional[bool] = None
        self._box_info: dict = {}
        self._description: Optional[dict] = None

    def _use_box(self, box: str) -> None:
        """Point the Vagrantfile, the machine directory and the VM name at ``box``."""
        self.box, self.slug = box, box_slug(box)
        self.env = {
            **os.environ,
            "HARNESS_BOX": self.box,
            "HARNESS_VM_NAME": self.slug if self.slug.startswith("netns-harness") else f"netns-harness-{self.slug}",
            "VAGRANT_DOTFILE_PATH": str(self.root / ".vagrant" / self.slug),
        }
        if self.provider:
            self.env["VAGRANT_DEFAULT_PROVIDER"] = self.provider
        if self.env.get("HARNESS_LIBVIRT_DRIVER") == "qemu" and not self.env.get("HARNESS_QEMU_EMULATOR"):
            # Caps TCG's translation cache: ~0.6 GiB per VM instead of ~1.4 GiB.
            from harness.host_setup import TCG_WRAPPER

            if TCG_WRAPPER.exists():
                self.env["HARNESS_QEMU_EMULATOR"] = str(TCG_WRAPPER)
        self._vagrant = vagrant.Vagrant(str(self.root), env=self.env, quiet_stdout=False, quiet_stderr=False)

    def _build_box(self) -> None:
        from harness.box import BoxBuildError, build_box

        try:
            info = build_box(kernel_package=self.box_kernel, progress=self.progress)
        except BoxBuildError as exc:
            raise TargetError(f"building the box for {self.box_kernel} failed: {exc}") from None
        self._use_box(info.name)

    # -- prerequisites -----------------------------------------------------------------

    def _uses_libvirt(self) -> bool:
        return self.provider == "libvirt" or (self.provider is None and self.box.startswith("netns-harness/"))

    def check_prerequisites(self) -> None:
        """Raise ``TargetError`` naming the first missing piece and how to get it."""
        if not shutil.which("vagrant"):
            raise TargetError("vagrant is not installed: apt-get install vagrant (or see vagrantup.com)")
        if not (self.root / "Vagrantfile").exists():
            raise TargetError(f"no Vagrantfile in {self.root}: set HARNESS_VAGRANT_DIR to the repository")
        if self._uses_libvirt():
            plugins = _run(["vagrant", "plugin", "list"]).stdout
            if "vagrant-libvirt" not in plugins:
                raise TargetError("the libvirt provider is missing: apt-get install vagrant-libvirt "
                                  "(or vagrant plugin install vagrant-libvirt)")
            if _run(["virsh", "-c", "qemu:///system", "version"], timeout=20).returncode != 0:
                raise TargetError("the libvirt daemon is not running: run `harness host-setup` "
                                  "(or systemctl start libvirtd)")
            self.env.setdefault("VAGRANT_DEFAULT_PROVIDER", "libvirt")
            self.provider = "libvirt"
        boxes = [b for b in self._vagrant.box_list() if b.name == self.box]
        if self.provider:
            boxes = [b for b in boxes if b.provider == self.provider]
        if not boxes:
            if self.box.startswith("netns-harness/"):
                how = "build it with `harness box build` (see `harness box build --help` for the kernel)"
            else:
                how = f"add it with `vagrant box add {self.box}`, or build a local one with `harness box build`"
            raise TargetError(f"box {self.box} is not installed for provider {self.provider or 'default'}: {how}")
        box = boxes[-1]
        self._box_info = {"box": box.name, "box_version": box.version, "provider": box.provider}

    # -- lifecycle ---------------------------------------------------------------------

    def _state(self) -> str:
        try:
            return self._vagrant.status()[0].state or "unknown"
        except (subprocess.CalledProcessError, IndexError):
            return "unknown"

    def _up(self) -> None:
        if self.box_kernel:
            self._build_box()
        self.check_prerequisites()
        state = self._state()
        if self.reuse:
            if state != "running":
                raise TargetError(f"--reuse: no running VM for box {self.box} (state: {state}); run without --reuse")
            self.progress(f"reusing the running VM for box {self.box}")
        else:
            if state not in ("not_created", "unknown"):
                raise TargetError(
                    f"a VM for box {self.box} already exists (state: {state}), perhaps kept after a failure: "
                    f"run on it with --reuse, or remove it with: {self.destroy_command()}")
            self._created = True  # from here on a half-made VM may exist: close() must look
            self._vagrant_up()
        self._ssh = self._connect()

    def _vagrant_up(self, attempts: int = 2) -> None:
        """``vagrant up`` with its progress streamed; one retry from scratch after a failure.

        Vagrant sometimes fails a fresh ``up`` on a transient machine lock, seen here with
        two VMs booting at once (hashicorp/vagrant#8468): an infrastructure hiccup, not a
        verdict, so the half-made VM is destroyed and booted once more.
        """
        for attempt in range(1, attempts + 1):
            self.progress(f"vagrant up (box {self.box}, provider {self.provider or 'default'}) ...")
            try:
                for line in self._vagrant.up(provider=self.provider, stream_output=True):
                    self.progress("  " + line.rstrip())
                return
            except subprocess.CalledProcessError as exc:
                if attempt == attempts:
                    raise TargetError(f"vagrant up failed (exit code {exc.returncode}, {attempts} attempts); "
                                      "its output is above") from None
                self.progress(f"vagrant up failed (exit code {exc.returncode}): destroying and retrying once")
                self.destroy()

    def _connect(self) -> SshTarget:
        try:
            text = self._vagrant.ssh_config()
        except subprocess.CalledProcessError:
            raise TargetError(f"vagrant ssh-config failed: the VM for box {self.box} is not running") from None
        config = paramiko.SSHConfig.from_text(text).lookup("default")
        host, port = config.get("hostname"), config.get("port")
        # python-vagrant's own parser keeps only the last IdentityFile; paramiko keeps all.
        identities = [p for p in config.get("identityfile", []) if os.path.exists(os.path.expanduser(p))]
        if not host or host == "default" or not port:
            raise TargetError(f"vagrant ssh-config gave no address for the VM (got host={host!r}, port={port!r})")
        if not identities:
            raise TargetError("vagrant ssh-config names no private key that exists on this machine")
        self._conn = {"host": host, "port": int(port), "user": config.get("user", "vagrant"), "identity": identities}
        # The VM is ours and new: its host key cannot be known beforehand.
        return SshTarget(host, port=int(port), user=self._conn["user"], identity=identities, insecure=True)

    def run(self, script: str, *, timeout: float) -> ExecResult:
        """Run ``script`` in the VM (booting it on first use). Raises ``TargetError`` if the VM dies."""
        if self._ssh is None:
            self._up()
        try:
            return self._ssh.run(script, timeout=timeout)
        except TargetError as exc:
            state = self._state()
            if state != "running":
                raise TargetError(f"the VM is gone (vagrant status: {state}): {exc}") from None
            raise

    def set_outcome(self, passed: bool) -> None:
        """Tell the target whether every scenario passed (drives ``--destroy passing``)."""
        self._passed = passed

    def destroy_command(self) -> str:
        env = " ".join(f"{k}={shlex.quote(self.env[k])}" for k in ("HARNESS_BOX", "HARNESS_VM_NAME", "VAGRANT_DOTFILE_PATH"))
        return f"cd {shlex.quote(str(self.root))} && {env} vagrant destroy -f"

    def login_hint(self) -> str:
        env = " ".join(f"{k}={shlex.quote(self.env[k])}" for k in ("HARNESS_BOX", "HARNESS_VM_NAME", "VAGRANT_DOTFILE_PATH"))
        return f"cd {shlex.quote(str(self.root))} && {env} vagrant ssh"

    def destroy(self) -> None:
        """Destroy the VM if vagrant knows of one (half-created ones included)."""
        if self._state() == "not_created":
            return
        self.progress(f"vagrant destroy (box {self.box}) ...")
        try:
            self._vagrant.destroy()
        except subprocess.CalledProcessError as exc:
            self.progress(f"vagrant destroy failed (exit code {exc.returncode}); remove it by hand: {self.destroy_command()}")

    def close(self) -> None:
        """Close SSH, then destroy or keep the VM per the policy (and say how to reach a kept one)."""
        if self._ssh is not None:
            self._ssh.close()
        if not (self._created or self.reuse):
            return
        keep = self.destroy_policy == "never" or (self.destroy_policy == "passing" and self._passed is False)
        # A reused VM that ran no scenarios (e.g. `harness clean`) stays as it was.
        keep = keep or (self.reuse and self._passed is None and self.destroy_policy != "always")
        if keep:
            if self._state() == "running":
                self.progress(f"VM kept (--destroy {self.destroy_policy}). Log in:  {self.login_hint()}")
                self.progress(f"  re-run on it:  harness run --target vagrant --box {self.box} --reuse SCENARIOS")
                self.progress(f"  remove it:     {self.destroy_command()}")
            return
        self.destroy()

    def describe(self) -> dict:
        """Box, version, provider, Vagrant and provider versions (asked once: each vagrant call costs ~1 s)."""
        if self._description is None or self._description.get("box") != self._box_info.get("box"):
            self._description = self._ask_versions()
        return dict(self._description)

    def _ask_versions(self) -> dict:
        info = {"target": "vagrant", **self._box_info}
        version = _run(["vagrant", "--version"]).stdout.strip()
        info["vagrant_version"] = version.removeprefix("Vagrant ")
        if self.provider == "libvirt":
            info["provider_version"] = "libvirt " + _run(["virsh", "--version"]).stdout.strip()
            plugin = re.search(r"vagrant-libvirt \(([^,)]+)", _run(["vagrant", "plugin", "list"]).stdout)
            info["vagrant_libvirt_version"] = plugin.group(1) if plugin else None
        elif self.provider == "virtualbox" and shutil.which("VBoxManage"):
            info["provider_version"] = "VirtualBox " + _run(["VBoxManage", "--version"]).stdout.strip()
        return info
