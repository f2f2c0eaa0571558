#!/usr/bin/env bash
# ferry demo (run by `npm run demo` after tsc): build the sample images, export 1.0.0 and
# 1.1.0 onto ./demo-stick (a folder standing in for a USB stick), inspect and verify it.
# Extend by adding steps below (e.g. PKI + --signer once signing lands).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE="${NODE:-node}"
FERRY="$NODE dist/src/cli/main.js"
WORK="${DEMO_WORK:-./demo-work}"
STICK="${DEMO_STICK:-./demo-stick}"

step() { printf '\n== %s\n' "$*"; }

rm -rf "$WORK" "$STICK"
step "building sample images (rootfs 1.0.0, and 1.1.0 with a whiteout + opaque dir) in $WORK"
$NODE dist/samples/build-samples.js "$WORK" > "$WORK.json"
echo "layout: $WORK/layout (refs sample-1.0.0, sample-1.1.0); archives: $WORK/sample-*.oci.tar"

step "exporting kiosk 1.0.0 onto $STICK (from the OCI layout)"
$FERRY export --image "oci:$WORK/layout:sample-1.0.0" --target kiosk --version 1.0.0 --media "$STICK"

step "exporting kiosk 1.1.0 onto $STICK (from the oci-archive; the shared base layer is not written again)"
$FERRY export --image "oci-archive:$WORK/sample-1.1.0.oci.tar" --target kiosk --version 1.1.0 --media "$STICK"

step "what is on the stick"
$FERRY inspect --media "$STICK"

step "verifying every blob on the stick"
$FERRY verify --media "$STICK"

if command -v skopeo >/dev/null; then
  step "the stick is a plain OCI layout: skopeo reads it"
  skopeo inspect "oci:$STICK/FERRY/oci:kiosk-1.1.0" | head -12
fi
step "done: $STICK holds FERRY/oci with kiosk-1.0.0 and kiosk-1.1.0"
