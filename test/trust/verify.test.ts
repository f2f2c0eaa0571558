import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/trust/der-write.js';
import { verifyUpdate } from '../../src/trust/verify.js';
import { makePki, manifestBytes, manifestObject, NOW, signBytes, signerOf } from './helpers.js';

const pki = makePki();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-verify-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function opensslVerify(m: Buffer, sig: Buffer, root: Buffer): string {
  fs.writeFileSync(path.join(tmp, 'm.json'), m);
  fs.writeFileSync(path.join(tmp, 'm.json.p7s'), sig);
  fs.writeFileSync(path.join(tmp, 'root.pem'), toPem(root, 'CERTIFICATE'));
  return execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(tmp, 'm.json.p7s'), '-content', path.join(tmp, 'm.json'), '-CAfile', path.join(tmp, 'root.pem'), '-purpose', 'any', '-out', '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

describe('verifyUpdate', () => {
  it('accepts a manifest signed by a signer of the trusted root, and stock openssl agrees', async () => {
    const m = manifestBytes(manifestObject());
    const sig = await signBytes(m, [signerOf(pki.signer)]);
    const v = verifyUpdate(m, sig, { roots: [pki.root.cert] }, {}, NOW);
    expect(v.manifest.id).toBe('kiosk-2.3.1');
    expect(v.signers.map((s) => s.subject)).toEqual(['CN=Build Signer']);
    opensslVerify(m, sig, pki.root.cert);
  });
});
