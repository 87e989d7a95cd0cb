#!/bin/bash
# qemu-system-x86_64 wrapper to use as libvirt's <emulator> (vagrant-libvirt
# `emulator_path`, Vagrantfile: HARNESS_QEMU_EMULATOR=/path/to/this/script).
#
# Under TCG (no KVM) qemu's default translation cache makes a 1 GiB guest use
# ~1.4 GiB RSS; `-accel tcg,tb-size=256` brings it to ~0.6 GiB.  libvirt emits
# `-accel tcg` for <domain type='qemu'>; this rewrites it to add tb-size and
# passes every other argument (including libvirt's capability probes) through.
#
# libvirtd does not pass its environment to qemu, so the size is fixed here.
# The script must be executable by the libvirt-qemu user (mode 0755 and a
# world-traversable directory).
TB_SIZE_MIB=256
QEMU=${HARNESS_QEMU_BINARY:-/usr/bin/qemu-system-x86_64}   # override only for tests

args=()
while [ $# -gt 0 ]; do
    if [ "$1" = "-accel" ] && [ "${2:-}" = "tcg" ]; then
        args+=(-accel "tcg,tb-size=$TB_SIZE_MIB")
        shift 2
        continue
    fi
    args+=("$1")
    shift
done
exec "$QEMU" "${args[@]}"
