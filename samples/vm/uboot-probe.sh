#!/usr/bin/env bash
# Runs samples/uboot/boot.cmd (compiled by mkimage) under a real U-Boot: Debian's
# u-boot-qemu (qemu_arm64 build) in qemu-system-aarch64, with the environment where that
# build keeps it, the second CFI flash bank (CONFIG_ENV_IS_IN_FLASH, 0x4000000, 256 KiB),
# written on the host with libubootenv's fw_setenv as ferry's uboot backend writes it
# (docs/vm.md, "U-Boot"). Each boot prints the slot U-Boot chose (the kernel command line) and
# the environment U-Boot saved; the probe walks scenario 1 (B set primary: B boots) and 3
# (B never commits: its tries run out, A boots).
#   bash samples/vm/uboot-probe.sh [--out DIR]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT=/tmp/ferry-vm-uboot
[ "${1:-}" = --out ] && OUT="$2"
CACHE="${FERRY_VM_CACHE:-/var/cache/ferry-vm}/arm64"
KPKG="${FERRY_VM_KERNEL_ARM64:-linux-image-6.1.0-57-arm64}"
UBOOT=/usr/lib/u-boot/qemu_arm64/u-boot.bin
log() { echo "uboot-probe: $*" >&2; }
mkdir -p "$CACHE" "$OUT"
for t in qemu-system-aarch64 mkimage fw_setenv fw_printenv mkfs.ext4 sfdisk; do command -v "$t" >/dev/null || { log "$t is missing: FERRY_SETUP_UBOOT=1 bash samples/setup-debian.sh"; exit 2; }; done
[ -f "$UBOOT" ] || { log "$UBOOT is missing: FERRY_SETUP_UBOOT=1 bash samples/setup-debian.sh"; exit 2; }

# --- Debian's arm64 kernel (apt-get download: needs `dpkg --add-architecture arm64` and apt-get update) ---
deb="$(ls "$CACHE"/"$KPKG"_*.deb 2>/dev/null | head -1 || true)"
if [ -z "$deb" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || { log "apt-get download of the arm64 kernel needs: dpkg --add-architecture arm64 && apt-get update"; exit 2; }
  (cd "$CACHE" && apt-get download "$KPKG:arm64" 2>&1 | grep -v 'unsandboxed' >&2 || true)
  deb="$(ls "$CACHE"/"$KPKG"_*.deb | head -1)"
fi
if [ ! -f "$CACHE/Image" ]; then
  W="$(mktemp -d)"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$W" --wildcards './boot/vmlinuz-*'
  cp "$W"/boot/vmlinuz-* "$CACHE/Image" # Debian's arm64 vmlinuz is an uncompressed Image, as booti wants
  rm -rf "$W"
fi

# --- the disk: gpt1 boot (boot.scr), gpt2 rootfs-a, gpt3 rootfs-b (each /boot/Image), as boot.cmd expects ---
W="$OUT/work" && rm -rf "$W" && mkdir -p "$W/boot" "$W/a/boot" "$W/b/boot"
mkimage -A arm64 -T script -C none -d "$REPO/samples/uboot/boot.cmd" "$W/boot/boot.scr" >/dev/null
cp "$CACHE/Image" "$W/a/boot/Image" && cp "$CACHE/Image" "$W/b/boot/Image"
mkfs.ext4 -q -F -L boot -d "$W/boot" "$W/p1.img" 16M >/dev/null 2>&1
mkfs.ext4 -q -F -L rootfs-a -d "$W/a" "$W/p2.img" 64M >/dev/null 2>&1
mkfs.ext4 -q -F -L rootfs-b -d "$W/b" "$W/p3.img" 64M >/dev/null 2>&1
truncate -s 150M "$OUT/disk.img"
sfdisk -q "$OUT/disk.img" <<EOF
label: gpt
start=1MiB, size=16MiB, name=boot, attrs=LegacyBIOSBootable
start=17MiB, size=64MiB, name=rootfs-a
start=81MiB, size=64MiB, name=rootfs-b
EOF
dd if="$W/p1.img" of="$OUT/disk.img" bs=1M seek=1 conv=notrunc status=none
dd if="$W/p2.img" of="$OUT/disk.img" bs=1M seek=17 conv=notrunc status=none
dd if="$W/p3.img" of="$OUT/disk.img" bs=1M seek=81 conv=notrunc status=none
rm -rf "$W"

# --- the flash: bank 0 U-Boot, bank 1 the environment (erased = 0xff), 64 MiB each ---
truncate -s 64M "$OUT/flash0.img" && dd if="$UBOOT" of="$OUT/flash0.img" conv=notrunc status=none
dd if=/dev/zero bs=1M count=64 status=none | tr '\000' '\377' > "$OUT/flash1.img"
echo "$OUT/flash1.img 0x0 0x40000 0x40000" > "$OUT/fw_env.config"

# boot once: print the slot U-Boot chose (the kernel's command line) and the saved environment
boot() {
  local name="$1" log="$OUT/$1.log"
  nice -n 5 qemu-system-aarch64 -M virt -cpu cortex-a57 -m 512 -display none -nodefaults -serial stdio \
    -drive if=pflash,format=raw,readonly=on,file="$OUT/flash0.img" -drive if=pflash,format=raw,file="$OUT/flash1.img" \
    -drive if=none,format=raw,file="$OUT/disk.img",id=disk -device virtio-blk-pci,drive=disk > "$log" 2>&1 &
  local pid=$! i=0 # nice execs QEMU: $! is QEMU itself, killed below whatever happens
  while [ $i -lt 180 ] && kill -0 $pid 2>/dev/null; do
    grep -aq 'Kernel command line:' "$log" && break
    i=$((i + 1)); sleep 0.5
  done
  kill -KILL $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  local cmdline; cmdline="$(grep -a -m1 'Kernel command line:' "$log" | sed 's/.*Kernel command line: //' | tr -d '\r' || true)"
  echo "uboot-probe: $name: ${cmdline:-no kernel started (see $log)}"
  echo "uboot-probe: $name: env $(fw_printenv -c "$OUT/fw_env.config" 2>&1 | grep -a '^BOOT_\|rror\|CRC' | tr '\n' ' ' || true)"
  echo "uboot-probe: $name: U-Boot said: $(grep -a 'Flash\|Failed\|Bad \|SCRIPT\|bytes read' "$log" | head -12 | tr -d '\r' | tr '\n' '|' || true)"
}
log "boot 1: fresh environment (boot.cmd sets BOOT_ORDER=\"A B\", 3 tries each)"
boot fresh
log "ferry's setPrimary(B, 3): fw_setenv BOOT_ORDER=\"B A\" BOOT_B_LEFT=3"
printf 'BOOT_ORDER=B A\nBOOT_B_LEFT=3\n' > "$OUT/set.txt"
fw_setenv -c "$OUT/fw_env.config" -s "$OUT/set.txt" 2>&1 | sed 's/^/uboot-probe: fw_setenv: /' || log "fw_setenv failed (exit ${PIPESTATUS[0]})"
boot after-apply
