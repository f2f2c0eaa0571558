/**
 * Signature verification speed: one update manifest with a detached CMS signature by
 * an RSA-3072 signer (optionally through an intermediate, optionally two signers),
 * verified in-process with verifyUpdate as the device does. Prints one JSON line per
 * scenario with microseconds per verification. Usage: node dist/bench/verify-signature.js [N]
 */
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { createCertificate } from '../src/trust/cert-build.js';
import { createSignedData } from '../src/trust/cms-build.js';
import { canonicalJson } from '../src/trust/manifest.js';
import type { Signer } from '../src/trust/types.js';
import { verifyUpdate } from '../src/trust/verify.js';

const DAY = 86_400_000;
const now = new Date();
const iterations = Number(process.argv[2] ?? 500);
const key = () => generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
const validity = { notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 365 * DAY) };

const rootKey = key();
const root = createCertificate({ profile: 'root', commonName: 'bench root', publicKey: rootKey, signingKey: rootKey, ...validity });
const interKey = key();
const inter = createCertificate({ profile: 'ca', commonName: 'bench intermediate', publicKey: interKey, signingKey: rootKey, issuerCert: root, ...validity });
const signerKey = key();
const leaf = createCertificate({ profile: 'signer', commonName: 'bench signer', publicKey: signerKey, signingKey: rootKey, issuerCert: root, ...validity });
const signer2Key = key();
const leafViaInter = createCertificate({ profile: 'signer', commonName: 'bench signer 2', publicKey: signer2Key, signingKey: interKey, issuerCert: inter, ...validity });
const signer = (cert: Buffer, k: typeof rootKey, chain: Buffer[] = []): Signer => ({ certificateChain: [cert, ...chain], sign: async (d) => cryptoSign('sha256', d, k) });

const manifest = Buffer.from(
  canonicalJson({
    schema: 'ferry.update/v1',
    id: 'kiosk-2.3.1',
    created: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    expires: new Date(now.getTime() + 90 * DAY).toISOString().replace(/\.\d+Z$/, 'Z'),
    target: { name: 'kiosk', compatible: ['acme,kiosk-v2'], version: '2.3.1', counter: 2000300019999 },
    image: { ref: 'kiosk-2.3.1', manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'ab'.repeat(32), size: 1234 }, platform: { os: 'linux', architecture: 'amd64' }, payloadBytes: 123456789 },
    notes: 'x'.repeat(2000),
  }),
);

const scenarios: Array<[string, Signer[], number]> = [
  ['1 signer, root → signer', [signer(leaf, signerKey)], 1],
  ['1 signer via intermediate', [signer(leafViaInter, signer2Key, [inter])], 1],
  ['2 signers (2-of-n)', [signer(leaf, signerKey), signer(leafViaInter, signer2Key, [inter])], 2],
];
for (const [name, signers, required] of scenarios) {
  const sig = await createSignedData(manifest, signers, now);
  const run = () => verifyUpdate(manifest, sig, { roots: [root] }, { requiredSigners: required }, now);
  const t0 = process.hrtime.bigint();
  run();
  const firstUs = Number(process.hrtime.bigint() - t0) / 1e3;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run();
  const perOpUs = Number(process.hrtime.bigint() - start) / 1e3 / iterations;
  process.stdout.write(JSON.stringify({ bench: 'verify-signature', scenario: name, manifestBytes: manifest.length, signatureBytes: sig.length, iterations, firstUs: Math.round(firstUs), perOpUs: Math.round(perOpUs) }) + '\n');
}
