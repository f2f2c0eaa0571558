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

# --- trust (issue 3): a sample PKI, signed updates (build + QA), offline verification ---
PKI="$WORK/pki"
step "creating a sample PKI in $PKI: offline root CA, build signer, QA signer (keys unencrypted: demo only)"
rm -rf "$PKI"
$FERRY pki init-root --out "$PKI/root" --name "ferry demo root"
$FERRY pki issue-signer --root "$PKI/root" --name "build signer" --days 365 --out "$PKI/build"
$FERRY pki issue-signer --root "$PKI/root" --name "QA signer" --days 365 --out "$PKI/qa"

step "signing kiosk 1.1.0 at export (--signer), then adding the QA signature with ferry sign"
$FERRY export --image "oci-archive:$WORK/sample-1.1.0.oci.tar" --target kiosk --version 1.1.0 --media "$STICK" --signer "$PKI/build" --compatible acme,kiosk-v2
$FERRY sign --media "$STICK" --update kiosk-1.1.0 --signer "$PKI/qa"

step "stock openssl verifies both signatures of the update manifest"
openssl cms -verify -binary -inform DER -in "$STICK/FERRY/updates/kiosk-1.1.0.json.p7s" \
  -content "$STICK/FERRY/updates/kiosk-1.1.0.json" -CAfile "$PKI/root/cert.pem" -purpose any -out /dev/null

step "ferry verifies the signed update offline (2 distinct signers required), then every blob it pins"
mkdir -p "$PKI/trust/roots" && cp "$PKI/root/cert.pem" "$PKI/trust/roots/root.pem"
if $FERRY verify --help | grep -q -- '--trust'; then
  $FERRY verify --media "$STICK" --trust "$PKI/trust"
else
  $NODE --input-type=module -e "
    const { loadTrustMaterial } = await import('./dist/src/trust/load.js');
    const { verifyMediaUpdates } = await import('./dist/src/media/verify-updates.js');
    const trust = await loadTrustMaterial('$PKI/trust');
    for (const r of await verifyMediaUpdates('$STICK', trust, { requiredSigners: 2, compatible: 'acme,kiosk-v2' }, new Date(), { checkBlobs: true }))
      console.log(r.ok ? 'ok: ' + r.id + ' signed by ' + r.signers.map((s) => s.subject).join(' + ') + ', ' + r.blobsChecked + ' blobs checked, expires ' + r.expires
                      : 'refused: ' + r.id + ': ' + r.code + ': ' + r.message);"
fi

step "revoking the build signer: the stick now carries a root-signed CRL (FERRY/trust/crl.pem)"
$FERRY pki revoke --root "$PKI/root" --cert "$PKI/build/cert.pem" --media "$STICK"
openssl crl -in "$STICK/FERRY/trust/crl.pem" -noout -text | sed -n '1,12p'
