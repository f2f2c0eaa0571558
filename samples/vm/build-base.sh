#!/usr/bin/env bash
# The heavy half of build-image.sh (called by it; the result is cached):
#   build-base.sh OUT FLAVOUR KERNEL_DEB KERNEL_RELEASE FERRY_BIN
# writes OUT/disk.img, OUT/stick.img (FAT32), OUT/stick-ext4.img, OUT/pki and OUT/layout.env (partition offsets).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$1" FLAVOUR="$2" DEB="$3" KREL="$4" FERRY_BIN="$5"
log() { echo "build-image: $*" >&2; }
W="$(mktemp -d /tmp/ferry-vm-build.XXXXXX)"
LOOP= LOOP4=
cleanup() {
  mountpoint -q "$W/mnt" 2>/dev/null && umount "$W/mnt"
  [ -n "$LOOP4" ] && losetup -d "$LOOP4" 2>/dev/null
  [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
host_ferry() { "$FERRY_BIN" "$@"; }

# --- kernel and the modules the kiosk needs, in dependency order ---
KX="$(dirname "$DEB")/kernel-$KREL"
if [ ! -f "$KX/done" ]; then
  log "extracting $(basename "$DEB")"
  rm -rf "$KX" && mkdir -p "$KX"
  dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KX" --wildcards './boot/vmlinuz-*' './lib/modules/*'
  touch "$KX/done"
fi
MODDIR="$KX/lib/modules/$KREL/kernel"
WANT="virtio_pci virtio_blk crc32c_generic ext4 xhci_pci usb-storage sd_mod vfat nls_cp437 nls_utf8 nls_ascii"
declare -A seen=()
order=()
visit() {
  local name="$1" file dep
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  file="$(find "$MODDIR" -name "$name.ko" -o -name "${name//_/-}.ko" | head -1)"
  [ -n "$file" ] || return 0 # built in
  for dep in $(busybox strings -a "$file" | sed -n 's/^depends=//p' | tr ',' ' '); do visit "$dep"; done
  order+=("$file")
}
for m in $WANT; do visit "$m"; done

# --- the initramfs: busybox, the modules, /init ---
I="$W/initramfs"
mkdir -p "$I/bin" "$I/modules" "$I/proc" "$I/sys" "$I/dev" "$I/root"
cp /bin/busybox "$I/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$I/bin/$a"; done
: > "$I/modules.order"
for f in "${order[@]}"; do cp "$f" "$I/modules/"; basename "$f" >> "$I/modules.order"; done
cp "$HERE/initramfs-init" "$I/init"
(cd "$I" && find . | sort | busybox cpio -o -H newc 2>/dev/null | gzip -9) > "$W/initrd.img"

# --- a slot's root filesystem: busybox userland, GNU tar, mkfs.ext4, ferry (the single executable), kernel ---
copy_with_libs() { # copy_with_libs ROOT FILE [DEST]
  local root="$1" file="$2" dest="${3:-$2}" lib
  mkdir -p "$root$(dirname "$dest")" && cp -L "$file" "$root$dest"
  for lib in $(ldd "$file" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")" && cp -Ln "$lib" "$root$lib"; done
}
make_rootfs() { # make_rootfs DIR VERSION
  local R="$1"
  mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/lib/ferry-vm,etc,dev,proc,sys,tmp,run,data,boot/part,boot/efi,media/stick}
  cp /bin/busybox "$R/bin/busybox"
  for a in $(busybox --list); do
    case "$a" in busybox|tar|mke2fs) ;; *) [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a" ;; esac
  done
  copy_with_libs "$R" /usr/bin/tar
  copy_with_libs "$R" /sbin/mke2fs /usr/sbin/mkfs.ext4
  cp /etc/mke2fs.conf "$R/etc/"
  copy_with_libs "$R" "$FERRY_BIN" /usr/bin/ferry
  cp "$HERE/kiosk-init" "$R/sbin/init"
  cp "$HERE/health" "$R/usr/lib/ferry-vm/health"
  cp "$HERE/reboot-cmd" "$R/usr/lib/ferry-vm/reboot"
  cp "$KX"/boot/vmlinuz-* "$R/boot/vmlinuz"
  cp "$W/initrd.img" "$R/boot/initrd.img"
  echo "$2" > "$R/etc/ferry-version"
  echo "kiosk-$2" > "$R/etc/hostname"
}
log "building the slot root filesystems (1.0.0 for slot A, 1.1.0 for the stick)"
make_rootfs "$W/root-1.0.0" 1.0.0
make_rootfs "$W/root-1.1.0" 1.1.0

# --- PKI and the stick: kiosk 1.1.0 exported by ferry, signed ---
log "PKI and ferry export of kiosk 1.1.0"
host_ferry pki init-root --out "$OUT/pki/root" --name "ferry vm root" --no-passphrase >/dev/null
host_ferry pki issue-signer --root "$OUT/pki/root" --name "vm build signer" --days 3650 --out "$OUT/pki/build" >/dev/null
host_ferry export --image "rootfs:$W/root-1.1.0" --target kiosk --version 1.1.0 --media "$W/stick" --create \
  --signer "$OUT/pki/build" --compatible acme,kiosk-v2 --compress zstd >/dev/null
stick_mib=$(( $(du -sm "$W/stick" | cut -f1) * 13 / 10 + 64 ))
[ "$stick_mib" -ge 256 ] || stick_mib=256
truncate -s "${stick_mib}M" "$OUT/stick.img"
mkfs.vfat -F 32 -n FERRY "$OUT/stick.img" >/dev/null
mcopy -s -i "$OUT/stick.img" "$W/stick/FERRY" ::/
# the second stick case: the same stick on ext4 (label FERRY too)
mkfs.ext4 -q -F -L FERRY -d "$W/stick" "$OUT/stick-ext4.img" "${stick_mib}M"

# --- partitions, each made as a file system image without mounting ---
MiB=$((1024 * 1024))
SLOT_MIB=320 BOOT_MIB=32 DATA_MIB=96 TINY_MIB=16
log "making the partitions (slot A from root-1.0.0)"
mkfs.ext4 -q -F -L rootfs-a -d "$W/root-1.0.0" "$W/a.img" "${SLOT_MIB}M"
mkdir -p "$W/bootfs/boot/grub"
cp "$REPO/samples/grub/grub.cfg" "$W/bootfs/boot/grub/grub.cfg"
grub-editenv "$W/bootfs/boot/grub/grubenv" create
# no_timer_check: under TCG on a busy host the kernel's early IO-APIC timer check can fail
# ("MP-BIOS bug: 8254 timer not connected", then a panic before init): seen here at load 20.
# loglevel=5 (after grub.cfg's quiet, so it wins): a soft lockup or RCU stall also prints its
# registers and call trace on the serial console, so a hung guest can be diagnosed from the log.
grub-editenv "$W/bootfs/boot/grub/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0 FERRY_MAX_TRY=2 "FERRY_KERNEL_ARGS=no_timer_check loglevel=5"
mkfs.ext4 -q -F -L boot -d "$W/bootfs" "$W/boot.img" "${BOOT_MIB}M"
if [ "$FLAVOUR" = uefi ]; then
  # UEFI: GRUB, grub.cfg and the grubenv on the FAT EFI System Partition (gpt1), the usual place
  P1_MIB=34 P1_TYPE=C12A7328-F81F-11D2-BA4B-00A0C93EC93B P1_NAME=esp
  grub-mkimage -O x86_64-efi -o "$W/BOOTX64.EFI" -p /EFI/BOOT \
    part_gpt fat ext2 normal linux loadenv test echo configfile regexp efi_gop efi_uga boot
  mkfs.vfat -n ESP -C "$W/esp.img" $((P1_MIB * 1024)) >/dev/null
  mmd -i "$W/esp.img" ::/EFI ::/EFI/BOOT
  mcopy -i "$W/esp.img" "$W/BOOTX64.EFI" "$W/bootfs/boot/grub/grub.cfg" "$W/bootfs/boot/grub/grubenv" ::/EFI/BOOT/
  ENVFILE=/boot/efi/EFI/BOOT/grubenv
else
  P1_MIB=1 P1_TYPE=21686148-6449-6E6F-744E-656564454649 P1_NAME=bios
  ENVFILE=/boot/part/boot/grub/grubenv
fi
D="$W/datafs"
mkdir -p "$D/ferry/trust/roots" "$D/ferry/state" "$D/vm"
cp "$OUT/pki/root/cert.pem" "$D/ferry/trust/roots/root.pem"
sed "s#/boot/part/boot/grub/grubenv#$ENVFILE#" "$HERE/device.json" > "$D/ferry/device.json"
sed 's#"/dev/vda3"#"/dev/vda6"#' "$D/ferry/device.json" > "$D/ferry/device-tiny.json"
echo apply > "$D/vm/scenario" # the demo: apply the stick on the first boot
mkfs.ext4 -q -F -L data -d "$D" "$W/data.img" "${DATA_MIB}M"

# --- the disk: GPT, partitions written at their offsets, GRUB through a loop device ---
# gpt1 BIOS boot or ESP | gpt2 rootfs-a | gpt3 rootfs-b | gpt4 boot | gpt5 data | gpt6 tiny (scenario 6)
P1=1 P2=$((P1 + P1_MIB)) P3=$((P2 + SLOT_MIB)) P4=$((P3 + SLOT_MIB)) P5=$((P4 + BOOT_MIB)) P6=$((P5 + DATA_MIB))
TOTAL=$((P6 + TINY_MIB + 1))
DISK="$OUT/disk.img"
truncate -s "${TOTAL}M" "$DISK"
sfdisk -q "$DISK" <<EOF
label: gpt
start=${P1}MiB, size=${P1_MIB}MiB, type=${P1_TYPE}, name=${P1_NAME}
start=${P2}MiB, size=${SLOT_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=rootfs-a
start=${P3}MiB, size=${SLOT_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=rootfs-b
start=${P4}MiB, size=${BOOT_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=boot
start=${P5}MiB, size=${DATA_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data
start=${P6}MiB, size=${TINY_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=tiny
EOF
dd if="$W/a.img" of="$DISK" bs=1M seek="$P2" conv=notrunc,sparse status=none
dd if="$W/boot.img" of="$DISK" bs=1M seek="$P4" conv=notrunc,sparse status=none
dd if="$W/data.img" of="$DISK" bs=1M seek="$P5" conv=notrunc,sparse status=none
if [ "$FLAVOUR" = uefi ]; then
  dd if="$W/esp.img" of="$DISK" bs=1M seek="$P1" conv=notrunc,sparse status=none
else
  # This container's loop driver makes no partition devices, so the boot partition gets a
  # loop device of its own (offset); grub-install finds it by its file system UUID.
  log "grub-install --target=i386-pc through a loop device"
  LOOP="$(losetup -f --show "$DISK")"
  LOOP4="$(losetup -f --show -o $((P4 * MiB)) --sizelimit $((BOOT_MIB * MiB)) "$DISK")"
  mkdir -p "$W/mnt"
  mount -t ext4 "$LOOP4" "$W/mnt"
  grub-install --target=i386-pc --boot-directory="$W/mnt/boot" --modules="part_gpt ext2" "$LOOP" 2>&1 | grep -v 'Installing for\|Installation finished' >&2 || true
  [ -f "$W/mnt/boot/grub/i386-pc/core.img" ] || { log "grub-install failed"; exit 1; }
  cmp -s "$REPO/samples/grub/grub.cfg" "$W/mnt/boot/grub/grub.cfg" || { log "grub.cfg changed by grub-install"; exit 1; }
  umount "$W/mnt"
  losetup -d "$LOOP4"; LOOP4=
  losetup -d "$LOOP"; LOOP=
fi
cat > "$OUT/layout.env" <<EOF
BOOT_OFFSET=$((P4 * MiB))
DATA_OFFSET=$((P5 * MiB))
SLOT_A_OFFSET=$((P2 * MiB))
SLOT_B_OFFSET=$((P3 * MiB))
TINY_OFFSET=$((P6 * MiB))
ESP_OFFSET=$((P1 * MiB))
EOF
log "base images ready in $OUT"
