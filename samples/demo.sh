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
$FERRY export --image "oci:$WORK/layout:sample-1.0.0" --target kiosk --version 1.0.0 --media "$STICK" --create

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

# --- trust (issue 3): a sample PKI, signed updates (build + QA), offline verification ---
PKI="$WORK/pki"
step "creating a sample PKI in $PKI: offline root CA, build signer, QA signer (keys unencrypted: demo only)"
rm -rf "$PKI"
$FERRY pki init-root --out "$PKI/root" --name "ferry demo root" --no-passphrase
$FERRY pki issue-signer --root "$PKI/root" --name "build signer" --days 365 --out "$PKI/build"
$FERRY pki issue-signer --root "$PKI/root" --name "QA signer" --days 365 --out "$PKI/qa"

step "signing kiosk 1.0.0 and 1.1.0 at export (--signer), then adding the QA signature with ferry sign"
$FERRY export --image "oci:$WORK/layout:sample-1.0.0" --target kiosk --version 1.0.0 --media "$STICK" --signer "$PKI/build" --compatible acme,kiosk-v2
$FERRY export --image "oci-archive:$WORK/sample-1.1.0.oci.tar" --target kiosk --version 1.1.0 --media "$STICK" --signer "$PKI/build" --compatible acme,kiosk-v2 \
  --notes samples/release-notes-1.1.0.txt
for u in kiosk-1.0.0 kiosk-1.1.0; do $FERRY sign --media "$STICK" --update "$u" --signer "$PKI/qa"; done

step "stock openssl verifies both signatures of the update manifest"
openssl cms -verify -binary -inform DER -in "$STICK/FERRY/updates/kiosk-1.1.0.json.p7s" \
  -content "$STICK/FERRY/updates/kiosk-1.1.0.json" -CAfile "$PKI/root/cert.pem" -purpose any -out /dev/null

step "ferry verifies the signed updates offline (2 distinct signers required), then every blob they pin"
mkdir -p "$PKI/trust/roots" && cp "$PKI/root/cert.pem" "$PKI/trust/roots/root.pem"
$FERRY verify --media "$STICK" --trust "$PKI/trust" --required-signers 2 --compatible acme,kiosk-v2

# --- device (issue 4): a throwaway A/B device with dir slots and a real grubenv ---
if [ "$(id -u)" = 0 ] && command -v grub-editenv >/dev/null; then
  DEV="$(realpath "$WORK")/device"
  step "a throwaway device in $DEV: dir slots A/B, grubenv, booted from A (ferry.slot=A on the kernel command line)"
  mkdir -p "$DEV/slots/a" "$DEV/slots/b"
  echo "ferry.slot=A" > "$DEV/cmdline"
  cat > "$DEV/device.json" <<JSON
{
  "compatible": "acme,kiosk-v2",
  "deviceId": "demo-kiosk-0001",
  "stateDir": "$DEV/state",
  "trustDir": "$DEV/trust",
  "slots": { "A": { "type": "dir", "path": "$DEV/slots/a" }, "B": { "type": "dir", "path": "$DEV/slots/b" } },
  "bootloader": { "type": "grub", "envFile": "$DEV/grubenv", "attempts": 3 },
  "healthCheck": { "command": "test -f /etc/hostname || true", "timeoutSec": 30 },
  "policy": { "requiredSigners": 2 },
  "rebootCommand": "true"
}
JSON
  export FERRY_CMDLINE_FILE="$DEV/cmdline"
  step "ferry device init: trust root, the grubenv's initial state, state.json (slot A good and committed)"
  $FERRY device init --config "$DEV/device.json" --trust-root "$PKI/root/cert.pem" --version 0.9.0 --yes
  grub-editenv "$DEV/grubenv" list
  $FERRY device init --config "$DEV/device.json" --trust-root "$PKI/root/cert.pem" --version 0.9.0 --yes   # a second run changes nothing
  step "ferry device apply: picks the newest applicable update, writes slot B, switches the bootloader last"
  $FERRY device apply --config "$DEV/device.json" --media "$STICK" --yes
  grub-editenv "$DEV/grubenv" list
  step "simulated reboot into B, then the boot check commits it"
  echo "ferry.slot=B" > "$DEV/cmdline"
  $FERRY device boot-check --config "$DEV/device.json" --no-reboot
  $FERRY device status --config "$DEV/device.json"
  echo "receipts on the stick:"; find "$STICK/FERRY/receipts" -type f | sort
else
  step "skipping the device part (needs root and grub-editenv)"
fi

step "revoking the build signer: the stick now carries a root-signed CRL (FERRY/trust/crl.pem)"
$FERRY pki revoke --root "$PKI/root" --cert "$PKI/build/cert.pem" --media "$STICK"
openssl crl -in "$STICK/FERRY/trust/crl.pem" -noout -text | sed -n '1,12p'
step "with the build signer revoked, a 2-of-n verification refuses (exit 3), as a device would"
set +e
$FERRY verify --media "$STICK" --trust "$PKI/trust" --required-signers 2
echo "(exit code $?)"
set -e
step "demo done: $STICK is a signed ferry stick; try: skopeo inspect oci:$STICK/FERRY/oci:kiosk-1.1.0"
