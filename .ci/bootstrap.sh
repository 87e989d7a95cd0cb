#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for netns-harness, as root. Idempotent.
#   bash .ci/bootstrap.sh          tools for the tests and the local target
#   bash .ci/bootstrap.sh --vm     also Vagrant, vagrant-libvirt, qemu and the box builder
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(iproute2 iputils-ping nftables iptables procps kmod sudo openssh-server openssh-client python3-pip python3-venv)
if [[ ${1:-} == --vm ]]; then
  packages+=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
             debootstrap extlinux syslinux syslinux-common e2fsprogs parted dnsmasq-base)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python3 -m pip --version >/dev/null 2>&1 || { echo "bootstrap: python3 has no pip" >&2; exit 1; }
python3 -m nox --version >/dev/null 2>&1 || python3 -m pip install -q --root-user-action=ignore nox \
  || python3 -m pip install -q --break-system-packages nox
