#!/usr/bin/env bash
# Build the tiny test guest from Debian packages only: the kernel of linux-image-cloud-amd64 and an
# initramfs of busybox-static whose init loads the virtio modules, prints a marker line with the
# workload id (from the kernel command line, civicloud.workload=<id>) on the serial console, and
# stays up. Output, cached: <dest>/vmlinuz, <dest>/initrd.img, <dest>/base.qcow2, <dest>/VERSION.
#   usage: scripts/build-guest-image.sh [DEST]   (default: $CIVICLOUD_GUEST_DIR, else /var/cache/civicloud/guest)
# QEMU runs as libvirt's own user: DEST and its parents must be traversable by it (mode 0755 here).
set -euo pipefail

dest=${1:-${CIVICLOUD_GUEST_DIR:-/var/cache/civicloud/guest}}
mkdir -p -m 0755 "$dest"
chmod 0755 "$dest"
dest=$(cd "$dest" && pwd)
if [ -s "$dest/vmlinuz" ] && [ -s "$dest/initrd.img" ] && [ -s "$dest/base.qcow2" ]; then
  echo "guest image ready in $dest ($(cat "$dest/VERSION" 2>/dev/null))"
  exit 0
fi

need=()
command -v cpio >/dev/null || need+=(cpio)
command -v qemu-img >/dev/null || need+=(qemu-utils)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "missing: ${need[*]} (sudo apt-get install -y ${need[*]})" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt-get download runs as _apt
cd "$work"
# The metapackage names the kernel package of the day; download both it and busybox without installing.
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_pkg" ] || { echo "linux-image-cloud-amd64 not known to apt; run apt-get update" >&2; exit 1; }
apt-get download -q "$kernel_pkg" busybox-static >/dev/null
dpkg-deb -x "$(ls "${kernel_pkg}"_*.deb)" kernel
dpkg-deb -x "$(ls busybox-static_*.deb)" busybox
kver=${kernel_pkg#linux-image-}

root=$work/initramfs
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules}
cp busybox/bin/busybox "$root/bin/busybox"
for tool in sh mount insmod echo cat sleep poweroff reboot ls mkdir grep sed; do ln -s busybox "$root/bin/$tool"; done
# virtio modules the test guest needs, in load order (dependencies first); built-in ones are simply absent.
modules=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_net
         virtio_console virtio_balloon)
: > "$root/lib/modules/load-order"
for m in "${modules[@]}"; do
  f=$(find "kernel/lib/modules/$kver" -name "$m.ko*" | head -n 1 || true)
  [ -n "$f" ] || continue
  case "$f" in
    *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
  echo "$m" >> "$root/lib/modules/load-order"
done
cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m.ko 2>/dev/null; done
id=unknown
for arg in $(cat /proc/cmdline); do
  case "$arg" in civicloud.workload=*) id=${arg#civicloud.workload=} ;; esac
done
echo "civicloud-guest: workload $id up"
while true; do sleep 3600; done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$dest/initrd.img"
cp "kernel/boot/vmlinuz-$kver" "$dest/vmlinuz"
qemu-img create -q -f qcow2 "$dest/base.qcow2" 64M
echo "$kernel_pkg, busybox-static $(dpkg-deb -f "$(ls busybox-static_*.deb)" Version)" > "$dest/VERSION"
echo "guest image built in $dest ($(cat "$dest/VERSION"))"
