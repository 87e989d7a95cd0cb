#!/bin/bash
# Build a bootable Debian disk image for a vagrant-libvirt box.
#
# Called by harness/box.py (build_box); runs as root on a Debian-like host with
# debootstrap, parted, e2fsprogs, extlinux, syslinux-common and qemu-utils.
#
#   box_build.sh --suite bookworm --mirror http://deb.debian.org/debian \
#                (--kernel linux-image-cloud-amd64[/bookworm-backports] | --kernel-deb FILE) \
#                --pubkey /path/vagrant.pub --workdir DIR \
#                [--security-mirror http://deb.debian.org/debian-security] \
#                [--disk-gib 4] [--deb-cache DIR] [--extra-packages a,b]
#
# Results in DIR: box.img (compressed qcow2), kernel-release (e.g.
# "6.1.0-28-cloud-amd64") and kernel-version (its package's version, e.g. "6.1.176-1").  Progress markers "==> step: NAME" on stdout are
# parsed by box.py.  Loop device and mounts are released on every exit path;
# DIR/rootfs is left for the caller to delete (box.py checks that nothing is
# mounted below it first).
#
# Notes:
#  * The tree is debootstrapped into DIR/rootfs and then copied into the image,
#    so downloaded .debs and deleted files never reach the disk image (fstrim
#    through a loop device does not punch holes on every host).
#  * The host kernel may lack partition scanning on loop devices, so the root
#    partition is reached with `losetup --offset 1MiB`.
#  * ext4 is made without 64bit/metadata_csum/orphan_file: extlinux (syslinux
#    6.04) cannot boot from file systems with those features.
#  * The kernel is installed after debootstrap, with apt, from the suite, its security
#    suite (where the newer kernels of a stable release are), the release PKG/RELEASE
#    names, or a local .deb (a kernel build's `make bindeb-pkg`); the initramfs is
#    configured first, so the kernel's own hook makes the small one once.
#  * net.ifnames=0 makes the first NIC eth0; systemd-networkd runs DHCP on it.
#  * The VM boots to sshd and no further (see "configure"): under TCG each unit,
#    module and console line costs the one vCPU; `quiet mitigations=off norandmaps` on the
#    kernel command line (a disposable test VM runs no untrusted code). norandmaps: qemu's
#    TCG keeps translated code by virtual address, so with ASLR every process translates
#    ld.so and its libraries afresh; without it an exec costs a third (ping 145 -> 52 ms).
set -euo pipefail

SUITE="" MIRROR="" KERNEL="" KERNEL_DEB="" PUBKEY="" WORKDIR="" DISK_GIB=4
EXTRA_PACKAGES="" DEB_CACHE="" SECURITY_MIRROR=""

while [ $# -gt 0 ]; do
    case "$1" in
        --suite) SUITE=$2; shift 2 ;;
        --mirror) MIRROR=$2; shift 2 ;;
        --kernel) KERNEL=$2; shift 2 ;;
        --kernel-deb) KERNEL_DEB=$2; shift 2 ;;
        --security-mirror) SECURITY_MIRROR=$2; shift 2 ;;
        --pubkey) PUBKEY=$2; shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        --disk-gib) DISK_GIB=$2; shift 2 ;;
        --deb-cache) DEB_CACHE=$2; shift 2 ;;
        --extra-packages) EXTRA_PACKAGES=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for v in SUITE MIRROR PUBKEY WORKDIR; do
    [ -n "${!v}" ] || { echo "missing --${v,,}" >&2; exit 2; }
done
[ -n "$KERNEL$KERNEL_DEB" ] || { echo "missing --kernel or --kernel-deb" >&2; exit 2; }
[ -r "$PUBKEY" ] || { echo "vagrant public key not readable: $PUBKEY" >&2; exit 2; }
[ -z "$KERNEL_DEB" ] || [ -r "$KERNEL_DEB" ] || { echo "kernel package not readable: $KERNEL_DEB" >&2; exit 2; }

# "pkg/release" installs the kernel from that release (e.g. backports).
KERNEL_PKG=${KERNEL%%/*}
KERNEL_RELEASE_SUITE=""
[ "$KERNEL" != "$KERNEL_PKG" ] && KERNEL_RELEASE_SUITE=${KERNEL#*/}

HOSTNAME_=netns-harness
ROOT="$WORKDIR/rootfs"      # debootstrap target (plain directory)
MNT="$WORKDIR/mnt"          # the image's root partition, mounted
RAW="$WORKDIR/disk.raw"
LOOP=""
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

step() { echo "==> step: $*"; }

unmount_below() {
    # Unmount $1 and everything below it, deepest first.
    local m
    for m in $(awk -v r="$1" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}

cleanup() {
    set +e
    unmount_below "$ROOT"
    unmount_below "$MNT"
    if [ -n "$LOOP" ]; then
        losetup -d "$LOOP"
        LOOP=""
    fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM HUP

in_chroot() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"; }

step "partition"
mkdir -p "$WORKDIR"
rm -f "$RAW" "$WORKDIR/box.img" "$WORKDIR/kernel-release" "$WORKDIR/kernel-version"
truncate -s "${DISK_GIB}G" "$RAW"
parted -s "$RAW" mklabel msdos mkpart primary ext4 1MiB 100% set 1 boot on
dd if="$MBR_BIN" of="$RAW" bs=440 count=1 conv=notrunc status=none

step "mkfs"
PART_BYTES=$(( DISK_GIB * 1024 * 1024 * 1024 - 1024 * 1024 ))
LOOP=$(losetup --find --show --offset $((1024 * 1024)) --sizelimit "$PART_BYTES" "$RAW")
echo "root partition on $LOOP"
mkfs.ext4 -q -F -L rootfs -O ^64bit,^metadata_csum,^orphan_file "$LOOP" 2>/dev/null \
    || mkfs.ext4 -q -F -L rootfs -O ^64bit,^metadata_csum "$LOOP"   # e2fsprogs < 1.47
ROOT_UUID=$(blkid -o value -s UUID "$LOOP")

step "debootstrap"
INCLUDE="systemd-sysv,udev,dbus,kmod,procps,openssh-server,sudo,iproute2,iputils-ping,nftables,iptables,initramfs-tools,netbase"
[ -n "$EXTRA_PACKAGES" ] && INCLUDE="$INCLUDE,$EXTRA_PACKAGES"
CACHE_OPT=()
if [ -n "$DEB_CACHE" ]; then
    mkdir -p "$DEB_CACHE"
    CACHE_OPT=(--cache-dir="$(realpath "$DEB_CACHE")")
fi
mkdir -p "$ROOT"
debootstrap --arch=amd64 --variant=minbase --components=main "${CACHE_OPT[@]}" \
    --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR"

mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"
[ -n "$SECURITY_MIRROR" ] && echo "deb $SECURITY_MIRROR $SUITE-security main" >> "$ROOT/etc/apt/sources.list"
[ -n "$KERNEL_RELEASE_SUITE" ] && echo "deb $MIRROR $KERNEL_RELEASE_SUITE main" >> "$ROOT/etc/apt/sources.list"

# The initramfs only needs to find a virtio disk (ext4 is built in): with every module
# (MODULES=most) it is 15 MB to unpack and seconds of udev probing under TCG.  Set before the
# kernel is installed: its hook then makes this one, once.
sed -i 's/^MODULES=.*/MODULES=list/' "$ROOT/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk >> "$ROOT/etc/initramfs-tools/modules"

step "kernel"
# A frozen mirror (a snapshot of the archive) serves Release files past their Valid-Until:
# sid's expire after a week. debootstrap does not check it either.
in_chroot apt-get -o Acquire::Check-Valid-Until=false update -q
if [ -n "$KERNEL_DEB" ]; then
    cp "$KERNEL_DEB" "$ROOT/tmp/netns-harness-kernel.deb"
    in_chroot apt-get install -y -q --no-install-recommends /tmp/netns-harness-kernel.deb
    DEB_PKG=$(in_chroot dpkg-deb -f /tmp/netns-harness-kernel.deb Package)
    rm -f "$ROOT/tmp/netns-harness-kernel.deb"
else
    # A metapackage (linux-image-cloud-amd64) stands for one ABI's package: install that one
    # alone (the metapackage adds nothing to the image, and a mirror may lack its file).
    TARGET=()
    [ -n "$KERNEL_RELEASE_SUITE" ] && TARGET=(-t "$KERNEL_RELEASE_SUITE")
    ABI_PKG=$(in_chroot apt-cache "${TARGET[@]}" depends "$KERNEL_PKG" \
        | awk '$1 ~ /Depends:/ && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
    echo "kernel package: $KERNEL_PKG -> ${ABI_PKG:-$KERNEL_PKG}"
    in_chroot apt-get install -y -q --no-install-recommends "${TARGET[@]}" "${ABI_PKG:-$KERNEL_PKG}"
fi
KREL=$(cd "$ROOT/boot" && ls -1 vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$KREL" ] || { echo "the kernel package installed no /boot/vmlinuz-*" >&2; exit 1; }
KREL=${KREL#vmlinuz-}
# The kernel's package and its version (e.g. 6.1.176-1): the box's record of it. Debian and
# `make bindeb-pkg` name it linux-image-RELEASE; since 7.x Debian's hooks copy the image to
# /boot, so the file itself may belong to no package.
if [ -n "$KERNEL_DEB" ]; then
    KPKG=$DEB_PKG
elif in_chroot dpkg-query -W "linux-image-$KREL" >/dev/null 2>&1; then
    KPKG=linux-image-$KREL
else
    KPKG=$(in_chroot dpkg-query -S "/boot/vmlinuz-$KREL" | cut -d: -f1)
fi
KVER=$(in_chroot dpkg-query -W -f '${Version}' "$KPKG")
[ -e "$ROOT/boot/initrd.img-$KREL" ] || in_chroot update-initramfs -c -k "$KREL"
echo "kernel release: $KREL (package $KPKG $KVER)"

step "configure"
echo "$HOSTNAME_" > "$ROOT/etc/hostname"
cat > "$ROOT/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	$HOSTNAME_
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# fsck pass 0: a disposable VM's disk is fresh from the box every time (fsck cost ~5 s under TCG).
echo "UUID=$ROOT_UUID / ext4 errors=remount-ro 0 0" > "$ROOT/etc/fstab"
: > "$ROOT/etc/resolv.conf"   # do not leak the build host's resolver

# DHCP on the first NIC (eth0 thanks to net.ifnames=0).  ClientIdentifier=mac
# keeps leases distinct even if two VMs ever shared a machine-id.
mkdir -p "$ROOT/etc/systemd/network"
cat > "$ROOT/etc/systemd/network/10-eth0.network" <<'EOF'
[Match]
Name=eth0

[Network]
DHCP=ipv4

[DHCPv4]
ClientIdentifier=mac
EOF
in_chroot systemctl enable systemd-networkd.service
# Nothing to update from in a disposable VM; these only cost boot time.
in_chroot systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer
# Boot to sshd and no further.  Under TCG every unit costs seconds of the one vCPU: nothing
# here logs in on a console or a seat (logind, dbus, gettys), mounts debug file systems, or
# needs the modules that systemd's modprobe@ units load up front.
in_chroot systemctl mask systemd-logind.service dbus.service dbus.socket getty@tty1.service \
    systemd-journal-flush.service systemd-update-utmp.service systemd-update-utmp-runlevel.service \
    modprobe@drm.service modprobe@efi_pstore.service modprobe@fuse.service modprobe@dm_mod.service \
    modprobe@loop.service modprobe@configfs.service sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
    systemd-pstore.service
in_chroot systemctl set-default multi-user.target
# The journal in memory only: nothing outlives the VM.
mkdir -p "$ROOT/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' > "$ROOT/etc/systemd/journald.conf.d/10-volatile.conf"
# Devices of the VM's machine type that no scenario uses: udev would load their drivers at boot.
printf 'blacklist %s\n' kvm kvm_amd kvm_intel evdev serio_raw button efi_pstore pcspkr floppy ata_piix \
    ata_generic qemu_fw_cfg virtio_balloon i2c_piix4 psmouse joydev uhci_hcd sr_mod sg \
    > "$ROOT/etc/modprobe.d/netns-harness-unused.conf"

# sshd: no reverse DNS (slow logins without a resolver), no PAM session (motd scripts, limits,
# loginuid) around every script the harness sends: ~50 ms less per script under TCG.  Host keys are made
# at first boot so VMs from the same box do not share them; only ed25519, because
# RSA key generation takes ~25 s under TCG emulation (and ecdsa another second).
mkdir -p "$ROOT/etc/ssh/sshd_config.d"
cat > "$ROOT/etc/ssh/sshd_config.d/10-vagrant.conf" <<'EOF'
UseDNS no
GSSAPIAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
UsePAM no
PrintMotd no
PrintLastLog no
EOF
rm -f "$ROOT"/etc/ssh/ssh_host_*
cat > "$ROOT/etc/systemd/system/ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -N "" -t ed25519 -f /etc/ssh/ssh_host_ed25519_key

[Install]
WantedBy=ssh.service
EOF
in_chroot systemctl enable ssh-host-keys.service

# vagrant user: password "vagrant", passwordless sudo, Vagrant's insecure key
# (vagrant replaces it with a per-VM key on first `vagrant up`).
in_chroot useradd --create-home --shell /bin/bash --user-group vagrant
echo "vagrant:vagrant" | in_chroot chpasswd
cat > "$ROOT/etc/sudoers.d/vagrant" <<'EOF'
Defaults:vagrant !requiretty
vagrant ALL=(ALL) NOPASSWD: ALL
EOF
chmod 0440 "$ROOT/etc/sudoers.d/vagrant"
in_chroot visudo -cf /etc/sudoers.d/vagrant
install -d -m 0700 "$ROOT/home/vagrant/.ssh"
install -m 0600 "$PUBKEY" "$ROOT/home/vagrant/.ssh/authorized_keys"
in_chroot chown -R vagrant:vagrant /home/vagrant/.ssh
# The same key for root: the harness logs in as root and skips sudo (~0.5 s per script under TCG).
install -d -m 0700 "$ROOT/root/.ssh"
install -m 0600 "$PUBKEY" "$ROOT/root/.ssh/authorized_keys"

# A fresh machine-id per VM (generated at boot when the file is empty).
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"

step "shrink"
in_chroot apt-get clean
# No documentation in a disposable VM, now or from later installs.
cat > "$ROOT/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/*.log \
    "$ROOT"/var/cache/debconf/*-old "$ROOT"/debootstrap
unmount_below "$ROOT/proc"
unmount_below "$ROOT/sys"
unmount_below "$ROOT/dev"

step "copy"
mkdir -p "$MNT"
mount "$LOOP" "$MNT"
# -a keeps hard links, owners, modes and xattrs (ping's file capability).
cp -a "$ROOT"/. "$MNT"/
df -h "$MNT"

step "bootloader"
mkdir -p "$MNT/boot/extlinux"
extlinux --install "$MNT/boot/extlinux"
cat > "$MNT/boot/extlinux/extlinux.conf" <<EOF
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
    LINUX /boot/vmlinuz-$KREL
    INITRD /boot/initrd.img-$KREL
    APPEND root=UUID=$ROOT_UUID ro console=tty0 console=ttyS0,115200n8 net.ifnames=0 biosdevname=0 quiet mitigations=off norandmaps
EOF
cleanup
set -e   # cleanup turned it off for its best-effort unmounts
sync

step "convert"
# zstd clusters written by parallel coroutines: 1.6 s here against 12.5 s for zlib's, the same
# size (qemu >= 5.1 reads them, where the VM runs too); zlib where qemu-img has no zstd.
qemu-img convert -c -o compression_type=zstd -m 8 -W -O qcow2 "$RAW" "$WORKDIR/box.img" \
    || { rm -f "$WORKDIR/box.img"; qemu-img convert -c -O qcow2 "$RAW" "$WORKDIR/box.img"; }
rm -f "$RAW"
echo "$KREL" > "$WORKDIR/kernel-release"
echo "$KVER" > "$WORKDIR/kernel-version"
qemu-img info "$WORKDIR/box.img"
