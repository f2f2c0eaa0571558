import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSignerUsage } from '../../src/trust/chain.js';
import { toPem } from '../../src/trust/der-write.js';
import { buildDeviceCsr, parseDeviceCsr } from '../../src/trust/device-cert.js';
import { enrollDevice, enrolmentFile, loadEnrolments } from '../../src/trust/enroll.js';
import { initRoot } from '../../src/trust/pki.js';
import { parseCertificate } from '../../src/trust/x509.js';
import { publicKeyId } from '../../src/trust/receipt-signature.js';

let dir: string;
const p = (...x: string[]) => path.join(dir, ...x);
const deviceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-device-cert-'));
  await initRoot({ out: p('device-ca'), name: 'Unit device CA', days: 3650 });
  await fsp.writeFile(p('dev.csr'), toPem(buildDeviceCsr('kiosk-0042', deviceKey.privateKey), 'CERTIFICATE REQUEST'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('device enrolment request', () => {
  it('is a PKCS#10 request openssl verifies, naming the device and its key', () => {
    const out = execFileSync('openssl', ['req', '-in', p('dev.csr'), '-noout', '-verify', '-subject'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/subject=CN\s*=\s*kiosk-0042/);
    const der = buildDeviceCsr('kiosk-0042', deviceKey.privateKey);
    const req = parseDeviceCsr(der);
    expect(req).toMatchObject({ deviceId: 'kiosk-0042', keyId: publicKeyId(deviceKey.publicKey) });
  });

  it('is refused when a byte of the signed part was changed', () => {
    const der = Buffer.from(buildDeviceCsr('kiosk-0042', deviceKey.privateKey));
    const at = der.indexOf(Buffer.from('kiosk-0042'));
    der[at] = 'K'.charCodeAt(0);
    expect(() => parseDeviceCsr(der)).toThrow(expect.objectContaining({ code: 'KEY_INVALID', message: expect.stringMatching(/does not verify/) }));
  });

  it('is refused for a device id that could not be a receipts folder name', () => {
    expect(() => parseDeviceCsr(buildDeviceCsr('../etc', deviceKey.privateKey))).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
});

describe('enrollDevice', () => {
  it('issues a certificate openssl verifies against the device CA, recorded in the register', async () => {
    const r = await enrollDevice({ caDir: p('device-ca'), csrFile: p('dev.csr'), days: 365, out: p('dev.pem') });
    expect(r.deviceId).toBe('kiosk-0042');
    expect(r.recordedAt).toBe(enrolmentFile(p('device-ca'), publicKeyId(deviceKey.publicKey)));
    const out = execFileSync('openssl', ['verify', '-CAfile', p('device-ca', 'cert.pem'), p('dev.pem')], { encoding: 'utf8' });
    expect(out).toMatch(/OK/);
    const reg = await loadEnrolments(p('device-ca'));
    expect(reg.problems).toEqual([]);
    expect(reg.byKeyId.get(publicKeyId(deviceKey.publicKey))?.deviceId).toBe('kiosk-0042');
  });

  it('issues a certificate that can never sign an update (no codeSigning, not a CA)', async () => {
    const pem = await fsp.readFile(p('dev.pem'), 'utf8');
    const cert = parseCertificate(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    expect(cert.isCA).toBe(false);
    expect([...(cert.keyUsage ?? [])]).toEqual(['digitalSignature']);
    expect(() => checkSignerUsage(cert)).toThrow(expect.objectContaining({ code: 'SIGNER_NOT_CODE_SIGNING' }));
  });

  it('lists a certificate in the register that another CA issued, and does not trust it', async () => {
    await initRoot({ out: p('other-ca'), name: 'Other CA', days: 3650 });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await fsp.writeFile(p('other.csr'), toPem(buildDeviceCsr('intruder', other.privateKey), 'CERTIFICATE REQUEST'));
    const r = await enrollDevice({ caDir: p('other-ca'), csrFile: p('other.csr'), days: 30 });
    await fsp.copyFile(r.recordedAt, path.join(p('device-ca', 'devices'), path.basename(r.recordedAt)));
    const reg = await loadEnrolments(p('device-ca'));
    expect(reg.byKeyId.has(publicKeyId(other.publicKey))).toBe(false);
    expect(reg.problems).toEqual([expect.stringMatching(/not issued by this device CA/)]);
  });

  it('loads a register of more certificates than it checks at once, listing the ones it cannot use in file order', async () => {
    await initRoot({ out: p('big-ca'), name: 'Big device CA', days: 3650 });
    await initRoot({ out: p('big-other-ca'), name: 'Another CA', days: 3650 });
    const ids: string[] = [];
    for (let i = 0; i < 70; i++) {
      const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await fsp.writeFile(p(`big-${i}.csr`), toPem(buildDeviceCsr(`big-${i}`, k.privateKey), 'CERTIFICATE REQUEST'));
      // three of them from another CA, copied into this register
      const r = await enrollDevice({ caDir: p(i % 30 === 7 ? 'big-other-ca' : 'big-ca'), csrFile: p(`big-${i}.csr`), days: 30 });
      if (i % 30 === 7) await fsp.copyFile(r.recordedAt, path.join(p('big-ca', 'devices'), path.basename(r.recordedAt)));
      else ids.push(`big-${i}`);
    }
    await fsp.writeFile(p('big-ca', 'devices', '00-damaged.pem'), 'not a certificate');
    const reg = await loadEnrolments(p('big-ca'));
    expect([...reg.byKeyId.values()].map((e) => e.deviceId).sort()).toEqual(ids.sort());
    expect(reg.problems).toHaveLength(4);
    expect(reg.problems[0]).toMatch(/00-damaged\.pem: /);
    expect(reg.problems.slice(1)).toEqual(Array(3).fill(expect.stringMatching(/not issued by this device CA/)));
    expect([...reg.problems].sort()).toEqual(reg.problems);
  }, 60_000);
});
