/**
 * The HQ commands through the built CLI: export (with and without signing), usage errors
 * and their exit codes, JSON output, archive/unarchive.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, tempDir } from '../media/fixtures.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let s: SampleImages & { dir: string };
let dir: string;

function ferry(...args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-hqcli-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('ferry export', () => {
  it('exports without --signer and says that no update manifest was written', () => {
    const media = path.join(dir, 'plain');
    const r = ferry('export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('exported kiosk-1.0.0');
    expect(r.out).toContain('no update manifest written');
  });

  it('signs an update manifest with --signer that openssl verifies against the root', async () => {
    const pki = path.join(dir, 'pki');
    expect(ferry('pki', 'init-root', '--out', path.join(pki, 'root'), '--no-passphrase').code).toBe(0);
    expect(ferry('pki', 'issue-signer', '--root', path.join(pki, 'root'), '--name', 'build', '--days', '30', '--out', path.join(pki, 'signer')).code).toBe(0);
    const notes = path.join(dir, 'notes.txt');
    await fsp.writeFile(notes, 'fixes the printer\n');
    const media = path.join(dir, 'signed');
    const r = ferry('export', '--create', '--image', s.v2Archive, '--target', 'kiosk', '--version', '1.1.0', '--media', media, '--signer', path.join(pki, 'signer'), '--compatible', 'acme-kiosk', '--counter', '7', '--notes', notes, '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.update.manifestPath).toMatch(/kiosk-1\.1\.0\.json$/);
    const manifest = JSON.parse(await fsp.readFile(res.update.manifestPath, 'utf8'));
    expect(manifest.image.manifest.digest).toBe(res.manifest.digest);
    expect(manifest.target.counter).toBe(7);
    expect(manifest.notes).toBe('fixes the printer\n');
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', res.update.signaturePath, '-content', res.update.manifestPath, '-CAfile', path.join(pki, 'root/cert.pem'), '-purpose', 'any', '-out', '/dev/null'], { stdio: 'ignore' });
  });

  it('refuses bad options with exit 2 before writing anything', async () => {
    const media = path.join(dir, 'usage');
    const cases: string[][] = [
      ['--target', 'Kiosk', '--version', '1.0.0'],
      ['--target', 'kiosk', '--version', '1.0'],
      ['--target', 'kiosk', '--version', '1.0.0', '--compress', 'lz4'],
      ['--target', 'kiosk', '--version', '1.0.0', '--compatible', 'x'],
      ['--target', 'kiosk', '--version', '1.0.0', '--signer', path.join(dir, 'nope'), '--compatible', 'x'],
      ['--target', 'kiosk', '--version', '1.0.0', '--platform', 'linux'],
    ];
    for (const c of cases) {
      const r = ferry('export', '--create', '--image', s.v1, '--media', media, ...c);
      expect(r.code, `${c.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(/^ferry: error\[[A-Z_]+\]: /);
    }
    const bad = ferry('export', '--create', '--image', 'docker://x', '--target', 'k', '--version', '1.0.0', '--media', media, '--json');
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out).error.code).toBe('BAD_INPUT_NAME');
    expect(await mediaState(media)).toEqual({ blobs: [], refs: [] });
  });

  it('refuses release notes over 64 KiB', async () => {
    const pki = path.join(dir, 'pki');
    const notes = path.join(dir, 'long-notes.txt');
    await fsp.writeFile(notes, 'n'.repeat(64 * 1024 + 1));
    const r = ferry('export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', path.join(dir, 'notes-media'), '--signer', path.join(pki, 'signer'), '--compatible', 'x', '--notes', notes);
    expect(r.code).toBe(5);
    expect(r.err).toContain('FILE_TOO_LARGE');
  });

  it('picks the platform with --platform and reports PLATFORM_NOT_FOUND with exit 5', () => {
    const r = ferry('export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', path.join(dir, 'plat'), '--platform', 'linux/arm64');
    expect(r.code).toBe(5);
    expect(r.err).toContain('PLATFORM_NOT_FOUND');
  });
});

describe('ferry archive and unarchive', () => {
  it('round-trips a stick through one tar file', () => {
    const media = path.join(dir, 'arch-src');
    expect(ferry('export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media).code).toBe(0);
    const tar = path.join(dir, 'stick.tar');
    const a = ferry('archive', '--media', media, '--out', tar);
    expect(a.code, a.err).toBe(0);
    const out = path.join(dir, 'arch-dst');
    const u = ferry('unarchive', '--create', '--in', tar, '--media', out, '--json');
    expect(u.code, u.err).toBe(0);
    expect(JSON.parse(u.out)).toMatchObject({ ok: true, images: 1 });
    expect(ferry('verify', '--media', out).code).toBe(0);
  });
});
