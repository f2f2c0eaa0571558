#!/usr/bin/env bash
# Stage the build context of samples/bootc/Containerfile in DIR:
#   bash samples/bootc/stage.sh DIR --config DEVICE.json --trust-root ROOT.pem [--exe dist/device/ferry]
# (the executable from npm run build:device; the units and udev rule from samples/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:?usage: stage.sh DIR --config FILE --trust-root PEM [--exe FILE]}"; shift
config=; root=; exe="$repo/dist/device/ferry"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --trust-root) root="$2"; shift 2 ;;
    --exe) exe="$2"; shift 2 ;;
    *) echo "stage.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$config" ] && [ -n "$root" ] || { echo "stage.sh: --config and --trust-root are required" >&2; exit 2; }
[ -x "$exe" ] || { echo "stage.sh: $exe is missing: run npm run build:device" >&2; exit 1; }
rm -rf "$out"
install -d "$out/usr/bin" "$out/usr/lib/systemd/system/multi-user.target.wants" "$out/usr/lib/udev/rules.d" "$out/etc/ferry/trust/roots"
install -m 0755 "$exe" "$out/usr/bin/ferry"
ln -s ferry "$out/usr/bin/ferry-tui"
install -m 0644 "$repo"/samples/systemd/*.service "$out/usr/lib/systemd/system/"
ln -s ../ferry-boot-check.service "$out/usr/lib/systemd/system/multi-user.target.wants/ferry-boot-check.service"
install -m 0644 "$repo/samples/udev/99-ferry.rules" "$out/usr/lib/udev/rules.d/"
install -m 0644 "$config" "$out/etc/ferry/device.json"
install -m 0644 "$root" "$out/etc/ferry/trust/roots/root.pem"
cp "$here/Containerfile" "$out/Containerfile"
echo "$out"
