#!/usr/bin/env bash
# Downloads the virtual kiosk's kernel, Debian's linux-image package, into the cache once
# (apt-get download: extracted by build-base.sh, never installed on the host) and prints the
# .deb's path. Called by samples/setup-debian.sh (so CI fetches it with the other tools) and
# by build-image.sh (when the cache was emptied since).
#   FERRY_VM_CACHE (default /var/cache/ferry-vm), FERRY_VM_KERNEL (default below)
set -euo pipefail
CACHE="${FERRY_VM_CACHE:-/var/cache/ferry-vm}"
KPKG="${FERRY_VM_KERNEL:-linux-image-6.1.0-57-amd64}"
mkdir -p "$CACHE"
deb="$(ls "$CACHE"/"$KPKG"_*.deb 2>/dev/null | head -1 || true)"
if [ -z "$deb" ]; then
  echo "fetch-kernel: downloading $KPKG (apt-get download, not installed)" >&2
  # a fresh machine may have no package lists yet
  apt-cache show "$KPKG" >/dev/null 2>&1 || apt-get update -qq
  (cd "$CACHE" && apt-get download -q "$KPKG" 2>&1 | grep -v 'Download is performed unsandboxed' >&2 || true)
  deb="$(ls "$CACHE"/"$KPKG"_*.deb 2>/dev/null | head -1 || true)"
  [ -n "$deb" ] || { echo "fetch-kernel: cannot download $KPKG: if the archive dropped it, pick a current one (apt-cache depends linux-image-amd64) and set FERRY_VM_KERNEL" >&2; exit 2; }
fi
echo "$deb"
