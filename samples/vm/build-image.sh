#!/usr/bin/env bash
# Builds ferry's virtual kiosk (docs/vm.md): DIR/disk.img (GPT: BIOS boot partition with
# GRUB, slots A and B, a boot partition holding samples/grub/grub.cfg verbatim and the
# grubenv, a data partition with ferry's config, trust and state), DIR/stick.img (a FAT32
# stick labelled FERRY carrying kiosk 1.1.0, signed by DIR/pki; DIR/stick-ext4.img the same
# on ext4), DIR/run.sh to boot it.
#   bash samples/vm/build-image.sh --out DIR [--flavour bios|uefi] [--ferry PATH]
# Heavy parts are cached under $FERRY_VM_CACHE (default /var/cache/ferry-vm): the kernel
# .deb and the built images, keyed by everything that goes into them.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT=
FLAVOUR=bios
FERRY_BIN="${FERRY_BIN:-$REPO/dist/device/ferry}"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --flavour) FLAVOUR="$2"; shift 2 ;;
    --ferry) FERRY_BIN="$2"; shift 2 ;;
    *) echo "usage: build-image.sh --out DIR [--flavour bios|uefi] [--ferry PATH]" >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || { echo "build-image.sh: --out DIR is required" >&2; exit 2; }
case "$FLAVOUR" in bios|uefi) ;; *) echo "build-image.sh: --flavour must be bios or uefi" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "build-image.sh: run as root (grub-install needs a loop device)" >&2; exit 2; }
CACHE="${FERRY_VM_CACHE:-/var/cache/ferry-vm}"
KPKG="${FERRY_VM_KERNEL:-linux-image-6.1.0-57-amd64}"
mkdir -p "$CACHE" "$OUT"
OUT="$(cd "$OUT" && pwd)"
log() { echo "build-image: $*" >&2; }

# ferry's single executable (npm run build:device) runs in the guest and, for the PKI and
# the export of the stick, on the host.
[ -x "$FERRY_BIN" ] || { echo "build-image.sh: $FERRY_BIN is missing: run npm run build:device first (or pass --ferry PATH)" >&2; exit 2; }
FERRY_BIN="$(readlink -f "$FERRY_BIN")"

# --- the kernel: Debian's generic amd64 build (the cloud flavour has no USB support) ---
deb="$(FERRY_VM_CACHE="$CACHE" FERRY_VM_KERNEL="$KPKG" bash "$HERE/fetch-kernel.sh")"
KREL="${KPKG#linux-image-}"

# --- the cache key: every input of the images ---
key_inputs() {
  echo "$FLAVOUR $KPKG $(basename "$deb")"
  cat "$0" "$HERE"/build-base.sh "$HERE"/fetch-kernel.sh "$HERE"/initramfs-init "$HERE"/kiosk-init "$HERE"/health "$HERE"/reboot-cmd "$HERE"/device.json "$REPO"/samples/grub/grub.cfg
  ferry_key
}
# The executable's bytes differ on every build (V8's code cache in the SEA blob), so when it
# was just built here (npm run build:device) its inputs are the key: the bundle, the SEA config
# and the terminfo entries beside it. Any other executable is keyed by its bytes.
ferry_key() {
  local b; b="$(dirname "$FERRY_BIN")/build/$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')"
  if [ -f "$b/ferry.cjs" ] && [ $(( $(stat -c %Y "$FERRY_BIN") - $(stat -c %Y "$b/ferry.cjs") )) -ge 0 ] \
     && [ $(( $(stat -c %Y "$FERRY_BIN") - $(stat -c %Y "$b/ferry.cjs") )) -lt 300 ]; then
    { cat "$b/ferry.cjs" "$b/sea-config.json"; find "$b/terminfo" -type f | sort | xargs cat; } | sha256sum
  else
    sha256sum < "$FERRY_BIN"
  fi
}
KEY="$(key_inputs | sha256sum | cut -c1-16)"
BASE="$CACHE/base-$FLAVOUR-$KEY"
if [ -f "$BASE/done" ]; then
  log "using cached images $BASE"
else
  rm -rf "$BASE" && mkdir -p "$BASE"
  bash "$HERE/build-base.sh" "$BASE" "$FLAVOUR" "$deb" "$KREL" "$FERRY_BIN"
  touch "$BASE/done"
  # every change of an input makes a new base (~270 MB): keep this one and the one before it
  ls -dt "$CACHE"/base-"$FLAVOUR"-* | tail -n +3 | xargs -r rm -rf
fi
cp --sparse=always "$BASE/disk.img" "$OUT/disk.img"
cp --sparse=always "$BASE/stick.img" "$OUT/stick.img"
cp --sparse=always "$BASE/stick-ext4.img" "$OUT/stick-ext4.img"
rm -rf "$OUT/pki" && cp -a "$BASE/pki" "$OUT/pki"
cp "$BASE/layout.env" "$OUT/layout.env"
cp "$HERE/run.sh" "$OUT/run.sh" && chmod +x "$OUT/run.sh"
echo "$FLAVOUR" > "$OUT/flavour"
log "done: $OUT/disk.img, $OUT/stick.img, $OUT/run.sh"
