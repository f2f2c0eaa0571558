/**
 * Issue 11, findings 12 and 13, through the built CLI: the mistakes people make at HQ
 * (a folder given as an archive, a tar given as a layout, a mistyped passphrase file, a
 * read-only stick) are typed errors that name the path and the fix, and every hint names
 * the option that really fixes it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { tempDir } from '../media/fixtures.js';
import { hq } from './device-run.js';

let s: SampleImages & { dir: string };
let dir: string;
const d = (p: string) => path.join(dir, p);

const ferry = hq;

/** The one error line of a failed run, parsed. */
function errorOf(r: { err: string }): { code: string; message: string } {
  const m = /ferry: error\[([A-Z_]+)\]: (.*)/.exec(r.err);
  expect(m, r.err).not.toBeNull();
  return { code: m![1]!, message: m![2]! };
}

const archiveFile = () => s.v1Archive.slice('oci-archive:'.length);

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-hq-errors-');
  await initRoot({ out: d('root'), name: 'ACME Root' });
  await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'build', days: 100, out: d('build') });
  await initRoot({ out: d('root-enc'), name: 'Encrypted Root', passphrase: 'root secret' });
  await fsp.mkdir(d('media'));
}, 120_000);
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

const exportTo = (image: string, ...extra: string[]) => ferry('export', '--image', image, '--target', 'kiosk', '--version', '1.0.0', '--media', d('media'), ...extra);

describe('finding 12: typed errors that name the path and the fix', () => {
  it('oci-archive: and docker-archive: given a folder say it is a folder and to use oci:', () => {
    for (const transport of ['oci-archive', 'docker-archive']) {
      const r = exportTo(`${transport}:${s.layout}`);
      expect(r.code, r.err).toBe(2);
      const e = errorOf(r);
      expect(e.code).toBe('BAD_INPUT_NAME');
      expect(e.message).toContain(s.layout);
      expect(e.message).toContain('is a folder');
      expect(e.message).toContain(`oci:${s.layout}`);
      expect(e.message).not.toMatch(/EISDIR|stick/);
    }
  });

  it('oci: given a tar file says it is a file and to use oci-archive:', () => {
    const r = exportTo(`oci:${archiveFile()}`);
    expect(r.code, r.err).toBe(2);
    const e = errorOf(r);
    expect(e.code).toBe('BAD_INPUT_NAME');
    expect(e.message).toContain(archiveFile());
    expect(e.message).toContain(`oci-archive:${archiveFile()}`);
    expect(e.message).not.toContain('ENOTDIR');
  });

  it('a mistyped passphrase file is a usage error naming the file and the option, not IO_ERROR', () => {
    const missing = d('no-such.pass');
    const r = exportTo(s.v1, '--signer', d('build'), '--compatible', 'acme', '--passphrase-file', missing);
    expect(r.code, r.err).toBe(2);
    const e = errorOf(r);
    expect(e.code).toBe('PASSPHRASE_REQUIRED');
    expect(e.message).toContain(missing);
    expect(e.message).toContain('--passphrase-file');
    expect(e.message).not.toContain('ENOENT');
    // a folder given as the passphrase file
    const r2 = ferry('pki', 'issue-signer', '--root', d('root-enc'), '--name', 'x', '--days', '10', '--out', d('x'), '--root-passphrase-file', dir);
    expect(r2.code, r2.err).toBe(2);
    const e2 = errorOf(r2);
    expect(e2.code).toBe('PASSPHRASE_REQUIRED');
    expect(e2.message).toContain('--root-passphrase-file');
    expect(e2.message).not.toContain('EISDIR');
    expect(fs.existsSync(d('x'))).toBe(false);
  });

  it('a read-only stick is READ_ONLY_MEDIA naming the mount and the fix, before anything is tried', () => {
    const mnt = d('ro-stick-hq');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=4m', 'ferry-hq-ro', mnt]);
    try {
      const r = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', mnt);
      expect(r.code, r.err).toBe(5);
      const e = errorOf(r);
      expect(e.code).toBe('READ_ONLY_MEDIA');
      expect(e.message).toContain(mnt);
      expect(e.message).toContain('read-only');
      expect(e.message).not.toContain('ENOENT');
      const sign = ferry('sign', '--media', mnt, '--update', 'kiosk-1.0.0', '--signer', d('build'));
      expect(errorOf(sign).code).toBe('READ_ONLY_MEDIA');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('finding 13: hints name what really fixes it', () => {
  it('issue-signer without the root passphrase names the --root-passphrase options', () => {
    const r = ferry('pki', 'issue-signer', '--root', d('root-enc'), '--name', 'x', '--days', '10', '--out', d('y'));
    expect(r.code, r.err).toBe(2);
    const e = errorOf(r);
    expect(e.code).toBe('PASSPHRASE_REQUIRED');
    expect(e.message).toContain('--root-passphrase-env');
    expect(e.message).toContain('--root-passphrase-file');
    expect(e.message).not.toMatch(/(^|[^-])--passphrase-(env|file)/);
  });

  it('--trust given a certificate file says to pass a folder holding roots/, not to copy into the file', () => {
    const r = ferry('verify', '--media', d('media'), '--trust', d('root/cert.pem'));
    expect(r.code, r.err).toBe(2);
    const e = errorOf(r);
    expect(e.code).toBe('TRUST_INVALID');
    expect(e.message).toContain('is a file');
    expect(e.message).not.toContain('cert.pem/roots');
    expect(e.message).toContain('roots/');
  });

  it('--expires takes a plain date', () => {
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const r = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.3', '--media', d('media'), '--signer', d('build'), '--compatible', 'acme', '--expires', day, '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(JSON.parse(r.out).update.manifestPath, 'utf8')).expires).toBe(`${day}T00:00:00Z`);
  });
});
