import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../../src/errors.js';
import { loadCampaign } from '../../../src/media/campaign/load.js';
import { initRoot, issueCertificate } from '../../../src/trust/pki.js';

let dir: string;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-campaign-load-'));
  await initRoot({ out: path.join(dir, 'root') });
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'release', days: 30, out: path.join(dir, 'signer') });
  await fsp.writeFile(path.join(dir, 'kiosk.tar'), 'not read by the loader');
  await fsp.writeFile(path.join(dir, 'notes.txt'), 'fixes the printer\n');
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const f = path.join(dir, name);
  await fsp.writeFile(f, text);
  return f;
}

async function problemsOf(file: string): Promise<{ line: number; message: string }[]> {
  try {
    await loadCampaign(file);
  } catch (e) {
    if (isFerryError(e, 'CAMPAIGN_INVALID')) return (e.details.problems as { line: number; message: string }[]).map(({ line, message }) => ({ line, message }));
    throw e;
  }
  throw new Error('expected CAMPAIGN_INVALID');
}

const GOOD = `name: spring-2027
label: SITE 12
signers:
  - dir: signer
images:
  - image: oci-archive:kiosk.tar:2.3.1
    target: kiosk
    version: 2.3.1
    compatible: [acme,kiosk-v2]
    notes: notes.txt
    rollout: { notBefore: 2027-03-01T00:00:00Z, expires: 2027-06-30 }
    requires: { minCounter: 5 }
  - image: docker://registry.example:5000/pos:5.0.2
    target: pos
    version: "5.0.2"
    compatible: [pos-v1]
`;

describe('loadCampaign', () => {
  it('reads a YAML campaign with paths made absolute and notes read', async () => {
    const c = await loadCampaign(await write('good.yaml', GOOD));
    expect(c.name).toBe('spring-2027');
    expect(c.label).toBe('SITE 12');
    expect(c.requiredSigners).toBe(1);
    expect(c.signers[0]!.dir).toBe(path.join(dir, 'signer'));
    const [kiosk, pos] = c.images;
    expect(kiosk!.image).toBe(`oci-archive:${path.join(dir, 'kiosk.tar')}:2.3.1`);
    expect(kiosk!.notes).toBe('fixes the printer\n');
    expect(kiosk!.notBefore).toBe('2027-03-01T00:00:00Z');
    expect(kiosk!.expires).toBe('2027-06-30');
    expect(kiosk!.minCounter).toBe(5);
    expect(kiosk!.at.line).toBe(6);
    expect(pos!.image).toBe('docker://registry.example:5000/pos:5.0.2');
    expect(pos!.version).toBe('5.0.2');
  });

  it('reads the same campaign written as JSON', async () => {
    const json = { name: 'j', signers: [{ dir: 'signer' }], images: [{ image: 'oci-archive:kiosk.tar', target: 'kiosk', version: '1.0.0', compatible: ['k'] }] };
    const c = await loadCampaign(await write('c.json', JSON.stringify(json, null, 2)));
    expect(c.images[0]!.compatible).toEqual(['k']);
    expect(c.images[0]!.compress).toBe('keep');
  });

  it('lists every problem at once, each with its line', async () => {
    const bad = `name: broken
signers:
  - dir: nosuch-signer
  - dir: signer
    passphraseEnv: X
    passphraseFile: also.txt
requiredSigners: 3
imgaes: []
images:
  - image: oci-archive:missing.tar
    target: kiosk
    version: 2.3.1
    compatible: [shared]
  - image: oci-archive:kiosk.tar
    target: kiosk
    version: 2.3.1
    compatible: [kiosk-v2]
  - image: oci-archive:kiosk.tar
    target: pos
    version: 1.0.0
    compatible: [shared]
    colour: red
  - target: old
    version: 1.9.4
    compatible: [old]
`;
    const p = await problemsOf(await write('bad.yaml', bad));
    const at = (line: number, re: RegExp) => expect(p.some((x) => x.line === line && re.test(x.message)), `line ${line} ${re} in ${JSON.stringify(p)}`).toBe(true);
    at(3, /signer folder .*nosuch-signer does not exist/);
    at(4, /passphraseEnv or passphraseFile, not both/);
    at(6, /passphrase file .*also\.txt does not exist/);
    at(7, /requiredSigners 3 must be between 1 and the 2/);
    at(8, /unknown key "imgaes"/);
    at(10, /image input .*missing\.tar does not exist/);
    at(14, /kiosk-2\.3\.1 is listed twice \(first at line 10\)/);
    at(21, /"shared" is claimed by target pos and by target kiosk \(line 13\)/);
    at(22, /unknown key "colour"/);
    at(23, /"image" is missing/);
    expect(p).toHaveLength(10);
  });

  it('reports YAML syntax errors and duplicate keys with their line', async () => {
    const p = await problemsOf(await write('syntax.yaml', 'name: a\nname: b\nsigners: [\n'));
    expect(p.some((x) => x.line === 2 && /unique/i.test(x.message))).toBe(true);
    expect(p.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses wrong value types and a bad rollout window', async () => {
    const text = `name: t
signers: [{ dir: signer }, { dir: ./signer }]
images:
  - image: oci-archive:kiosk.tar
    target: Kiosk
    version: 1.0.0
    compatible: kiosk
    counter: -1
    fileIndex: "yes"
    rollout: { notBefore: tomorrow, expires: 2020-01-01 }
    compress: lz4
`;
    const p = await problemsOf(await write('types.yaml', text));
    const lines = p.map((x) => x.line).sort((a, b) => a - b);
    expect(lines).toEqual([2, 5, 7, 8, 9, 10, 11]);
    expect(p.find((x) => x.line === 2)!.message).toMatch(/signer \.\/signer is listed twice \(first at line 2\)/);
    expect(p.find((x) => x.line === 7)!.message).toMatch(/must be a list/);
  });

  it('skips the file checks when asked (a report machine without the inputs)', async () => {
    const text = GOOD.replace('oci-archive:kiosk.tar', 'oci-archive:elsewhere.tar').replace('dir: signer', 'dir: hq-only-signer');
    const c = await loadCampaign(await write('nofiles.yaml', text), { checkFiles: false });
    expect(c.images.map((i) => i.target)).toEqual(['kiosk', 'pos']);
    await expect(loadCampaign(path.join(dir, 'nofiles.yaml'))).rejects.toMatchObject({ code: 'CAMPAIGN_INVALID' });
  });
});
