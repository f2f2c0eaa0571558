/**
 * Red team: the stick's CRLs and cross-certificates are parsed (CRLs signature-checked)
 * again for every update on it. A no-key attacker copied the legitimate CRL of any stick
 * 1,000 times into FERRY/trust/crl.pem and added 20 one-byte "updates": 4.9 s of CPU here;
 * at the 8 MiB cap (~8,000 copies) and 1,000 fake updates about half an hour, lock held.
 * Their numbers are capped: more is LIMIT_EXCEEDED before any signature work.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMediaUpdates } from '../../src/media/verify-updates.js';
import { listMediaUpdates, MAX_MEDIA_CRLS, MAX_MEDIA_CROSS_CERTS } from '../../src/media/updates.js';
import { loadTrustMaterial } from '../../src/trust/load.js';
import { revokeCertificate } from '../../src/trust/pki.js';
import type { TrustMaterial } from '../../src/trust/types.js';
import { type Jail, makeJail, removeJail } from '../helpers/hostile-device.js';
import { type HostileKit, makeHostileKit } from '../helpers/hostile-stick.js';

let hk: HostileKit;
let jail: Jail;
let stick: string;
let trust: TrustMaterial;
let crlPem: string;
let rootPem: string;

beforeAll(async () => {
  hk = await makeHostileKit();
  stick = await hk.newMedia();
  await hk.publish(stick, { image: hk.kit.samples.v1, version: '1.0.0', counter: 100 });
  await revokeCertificate({ rootDir: hk.kit.rootDir, mediaRoot: stick });
  crlPem = await fsp.readFile(path.join(stick, 'FERRY', 'trust', 'crl.pem'), 'utf8');
  rootPem = await fsp.readFile(hk.kit.rootCert, 'utf8');
  jail = await makeJail(hk.kit);
  trust = await loadTrustMaterial(jail.dev.trustDir, {});
}, 120_000);

afterAll(async () => {
  if (jail) await removeJail(jail);
  await hk?.cleanup();
});

async function withCrls(n: number): Promise<string> {
  const media = await hk.copy(stick);
  await fsp.writeFile(path.join(media, 'FERRY', 'trust', 'crl.pem'), crlPem.repeat(n));
  return media;
}

describe('red team: CRLs and cross-certificates on a stick are capped in number', () => {
  it(`accepts ${MAX_MEDIA_CRLS} copies of the legitimate CRL and installs the update`, async () => {
    const r = await verifyMediaUpdates(await withCrls(MAX_MEDIA_CRLS), trust, { requiredSigners: 1 }, new Date());
    expect(r.map((x) => x.code ?? 'ok')).toEqual(['ok']);
  });

  it(`refuses ${MAX_MEDIA_CRLS + 1} copies (a CPU bomb when repeated thousands of times) with LIMIT_EXCEEDED`, async () => {
    const media = await withCrls(MAX_MEDIA_CRLS + 1);
    await expect(listMediaUpdates(media)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(verifyMediaUpdates(media, trust, { requiredSigners: 1 }, new Date())).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });

  it(`refuses more than ${MAX_MEDIA_CROSS_CERTS} certificates in FERRY/trust/roots, across files`, async () => {
    const media = await hk.copy(stick);
    const roots = path.join(media, 'FERRY', 'trust', 'roots');
    await fsp.mkdir(roots, { recursive: true });
    await fsp.writeFile(path.join(roots, 'a.pem'), rootPem.repeat(MAX_MEDIA_CROSS_CERTS));
    expect((await listMediaUpdates(media)).crossCerts).toHaveLength(MAX_MEDIA_CROSS_CERTS);
    await fsp.writeFile(path.join(roots, 'b.pem'), rootPem);
    await expect(listMediaUpdates(media)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });
});

describe('red team: odd file names in FERRY/trust/roots', () => {
  it('ignores a PEM whose name has a space, non-ASCII, invalid UTF-8 or terminal escapes (as updates/ does) instead of refusing the stick as UNSAFE_PATH', async () => {
    const media = await hk.copy(stick);
    const roots = path.join(media, 'FERRY', 'trust', 'roots');
    await fsp.mkdir(roots, { recursive: true });
    await fsp.writeFile(path.join(roots, 'cross 2026.pem'), rootPem);
    await fsp.writeFile(path.join(roots, 'caf\u00e9.pem'), rootPem);
    await fsp.writeFile(path.join(roots, '\u001b[2Jx.pem'), rootPem);
    await fsp.writeFile(Buffer.concat([Buffer.from(`${roots}/`), Buffer.from([0xff]), Buffer.from('.pem')]), rootPem);
    await fsp.writeFile(path.join(roots, 'ok.pem'), rootPem);
    expect((await listMediaUpdates(media)).crossCerts).toHaveLength(1);
    const r = await verifyMediaUpdates(media, trust, { requiredSigners: 1 }, new Date());
    expect(r.map((x) => x.code ?? 'ok')).toEqual(['ok']);
  });
});
