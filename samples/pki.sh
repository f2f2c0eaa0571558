#!/usr/bin/env bash
# Sample offline PKI for ferry: an encrypted root CA, a build signer, an intermediate QA CA
# with a QA signer, and a device trust directory. Usage: samples/pki.sh [OUT_DIR]
# The root passphrase is read from $FERRY_ROOT_PASSPHRASE (a demo value is used when unset);
# in production keep the root folder offline and the passphrase out of shell history.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE="${NODE:-node}"
FERRY="$NODE dist/src/cli/main.js"
OUT="${1:-./demo-pki}"
export FERRY_ROOT_PASSPHRASE="${FERRY_ROOT_PASSPHRASE:-demo root passphrase}"

if [ -e "$OUT/root/key.pem" ]; then echo "$OUT already holds a root CA; remove it or pick another folder" >&2; exit 2; fi
mkdir -p "$OUT"
$FERRY pki init-root --out "$OUT/root" --name "ferry sample root CA" --days 7300 --passphrase-env FERRY_ROOT_PASSPHRASE
$FERRY pki issue-signer --root "$OUT/root" --root-passphrase-env FERRY_ROOT_PASSPHRASE --name "build signer" --days 730 --out "$OUT/build"
$FERRY pki issue-ca --root "$OUT/root" --root-passphrase-env FERRY_ROOT_PASSPHRASE --name "QA CA" --days 1825 --path-len 0 --out "$OUT/qa-ca"
$FERRY pki issue-signer --ca "$OUT/qa-ca" --name "QA signer" --days 365 --out "$OUT/qa"

# What a device needs: the root certificate only (never a key).
mkdir -p "$OUT/device-trust/roots"
cp "$OUT/root/cert.pem" "$OUT/device-trust/roots/root.pem"
openssl verify -CAfile "$OUT/root/cert.pem" -untrusted "$OUT/qa/chain.pem" "$OUT/qa/cert.pem" "$OUT/build/cert.pem"
cat <<INFO

sample PKI in $OUT:
  root/          offline root CA (key encrypted with \$FERRY_ROOT_PASSPHRASE)
  build/, qa/    signers: ferry export --signer $OUT/build ...; ferry sign --signer $OUT/qa ...
  device-trust/  copy to the device's trustDir (default /etc/ferry/trust)
revoke a signer:  ferry pki revoke --root $OUT/root --cert $OUT/build/cert.pem --media <stick> --passphrase-env FERRY_ROOT_PASSPHRASE
INFO
