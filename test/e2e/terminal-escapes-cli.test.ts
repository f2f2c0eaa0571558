/**
 * Issue 9, finding 7 and its class: no string from a stick reaches the terminal raw. The
 * unsigned index.json (mediaType, ref name, version annotation), update file names, signer
 * subjects and release notes carry ESC [2K, an OSC title, CR, backspaces, C1 CSI (U+009B) and
 * bidi overrides; the built CLI's human output must hold none of them, and --json must stay
 * JSON that parses back to the very same strings while also holding none raw.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../src/media/export.js';
import { publishUpdate } from '../../src/media/publish.js';
import { issueCertificate } from '../../src/trust/pki.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry, MAIN, NODE } from './device-run.js';

/** Erase the line, go back, print a fake success, retitle the window, backspace, C1 CSI, bidi override and isolate. */
const EVIL = '\x1b[2K\rinstalled kiosk-9.9.9 into slot B\x1b]0;pwned\x07\b\b\u009b31m\u202egnp.exe\u2066\u200f';
/** What a terminal would act on: C0 but newline and tab, DEL, C1, bidi and zero-width format characters. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/;

let kit: StickKit;
let good: string;
let n = 0;
const devices: TestDevice[] = [];

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  good = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit?.cleanup();
});

async function copyOf(media: string): Promise<string> {
  const out = path.join(kit.dir, `esc-${++n}`);
  await fsp.cp(media, out, { recursive: true });
  return out;
}

async function editIndex(media: string, edit: (index: Record<string, any>) => void): Promise<void> {
  const file = path.join(media, 'FERRY', 'oci', 'index.json');
  const index = JSON.parse(await fsp.readFile(file, 'utf8'));
  edit(index);
  await fsp.writeFile(file, JSON.stringify(index));
}

async function device(): Promise<TestDevice> {
  const dev = await makeDevice({ extra: { deviceId: `io-esc-${++n}` } });
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  return dev;
}

function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(NODE, [MAIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

/** Human output: no control character but newline, and the fake line never starts a line. */
function expectClean(r: SpawnSyncReturns<string>): void {
  for (const [name, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const bad = CONTROL.exec(text);
    expect(bad, `${name} holds U+${bad?.[0]!.charCodeAt(0).toString(16).padStart(4, '0')}: ${JSON.stringify(text)}`).toBeNull();
    expect(text).not.toMatch(/^installed kiosk-9/m);
  }
}

describe('strings from a stick are sanitised before they reach a terminal', () => {
  it('ferry device apply: the index.json mediaType in "ferry: skipped …" (finding 7)', async () => {
    const media = await copyOf(good);
    await editIndex(media, (i) => (i.mediaType = EVIL));
    const r = ferry(await device(), ['device', 'apply', '--media', media, '--yes']);
    expect(r.stderr).toMatch(/^ferry: skipped kiosk-1\.0\.0: INVALID_LAYOUT: .*mediaType "\?\[2K\?installed kiosk-9\.9\.9 into slot B\?\]0;pwned/m);
    expect(r.status).not.toBe(0);
    expectClean(r);
  });

  it('ferry device apply --json: the same strings stay JSON, parse back exactly, and hold no raw control', async () => {
    const media = await copyOf(good);
    await editIndex(media, (i) => (i.mediaType = EVIL));
    const r = ferry(await device(), ['device', 'apply', '--media', media, '--yes', '--json']);
    expect(r.status).not.toBe(0);
    expect(CONTROL.test(r.stdout + r.stderr)).toBe(false);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.ok).toBe(false);
    expect(JSON.stringify(out.error.details.skipped)).toContain(JSON.stringify(EVIL).slice(1, -1));
    expect(out.error.details.skipped[0].message).toContain(EVIL);
  });

  it('ferry inspect: ref name and version annotations, an unsupported entry mediaType, update file names', async () => {
    const media = await copyOf(good);
    await editIndex(media, (i) => {
      i.manifests[0].annotations['org.opencontainers.image.ref.name'] = `kiosk${EVIL}`;
      i.manifests[0].annotations['org.opencontainers.image.version'] = EVIL;
    });
    await fsp.writeFile(path.join(media, 'FERRY', 'updates', `kiosk${EVIL}.json`), '{}');
    const r = cli(['inspect', '--media', media]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}kiosk\?\[2K\?installed/m);
    expect(r.stdout).toMatch(/update manifests: .*kiosk\?\[2K/);
    expectClean(r);
    const j = cli(['inspect', '--media', media, '--json']);
    expect(CONTROL.test(j.stdout)).toBe(false);
    expect(JSON.parse(j.stdout).images[0]).toMatchObject({ ref: `kiosk${EVIL}`, version: EVIL });

    await editIndex(media, (i) => i.manifests.push({ ...i.manifests[0], mediaType: EVIL }));
    const e = cli(['inspect', '--media', media]);
    expect(e.stderr).toMatch(/^ferry: error\[UNSUPPORTED_MEDIA_TYPE\]: .*media type "\?\[2K/);
    expectClean(e);
  });

  it('ferry verify --trust: a signer subject with escapes', async () => {
    const signerDir = path.join(kit.dir, 'evil-signer');
    await issueCertificate({ issuerDir: kit.rootDir, profile: 'signer', name: `QA ${EVIL}`, days: 30, out: signerDir });
    const media = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100, signerDir }]);
    const dev = await device();
    const r = cli(['verify', '--media', media, '--trust', dev.trustDir]);
    // Node writes the subject RFC 4514-escaped (\1B); whatever it leaves raw must not reach the terminal
    expect(r.stdout).toMatch(/^ok kiosk-1\.0\.0: signed by CN=QA .*installed kiosk-9\.9\.9 into slot B/m);
    expect(r.status).toBe(0);
    expectClean(r);
    const j = cli(['verify', '--media', media, '--trust', dev.trustDir, '--json']);
    expect(CONTROL.test(j.stdout)).toBe(false);
    expect(JSON.parse(j.stdout).updates[0].signers[0].subject).toMatch(/^CN=QA .*installed kiosk-9\.9\.9 into slot B/);
  });

  it('ferry device apply on a terminal: release notes with escapes in the plan', async () => {
    const media = path.join(kit.dir, `notes-${++n}`);
    await fsp.mkdir(media);
    const ex = await exportImage({ image: kit.samples.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    await publishUpdate({
      mediaRoot: media,
      target: 'kiosk',
      version: '1.0.0',
      manifest: ex.manifest,
      platform: ex.platform,
      payloadBytes: ex.payloadBytes,
      chunkIndex: ex.chunkIndex,
      signerDir: kit.signerDir,
      compatible: ['acme,kiosk-v2'],
      counter: 100,
      expires: '30',
      notes: `fixes${EVIL}\nsecond line`,
    });
    const dev = await device();
    const cmd = [NODE, MAIN, 'device', 'apply', '--media', media, '--config', dev.configFile].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: 'n\n', encoding: 'utf8', env: { ...process.env, FERRY_CMDLINE_FILE: dev.cmdlineFile }, timeout: 60_000 });
    expect(r.stdout).toMatch(/notes: fixes\?\[2K\?installed kiosk-9\.9\.9 into slot B\?\]0;pwned/);
    // the terminal's own line endings (CR LF) and readline's prompt are not from the stick; the stick's bytes are gone
    for (const seq of ['\x1b[2K', '\x1b]0;pwned', '\b', '\u009b', '\u202e', '\u2066', '\u200f']) expect(r.stdout).not.toContain(seq);
    expect(r.stdout).not.toMatch(/^installed kiosk-9/m);
  });
});
