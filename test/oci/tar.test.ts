import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { writeTarAtomic } from '../../src/oci/archive-writer.js';
import { indexTar } from '../../src/oci/tar.js';
import { parseNumber as parseTarNumber } from '../../src/oci/tar-header.js';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-tar-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => isFerryError(e) && e.code === code);
}

describe('indexTar', () => {
  it('finds members of a GNU tar (pax format) with long names, symlinks and their byte ranges', async () => {
    const src = path.join(dir, 'src');
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}.bin`;
    await fsp.mkdir(path.join(src, path.dirname(long)), { recursive: true });
    await fsp.writeFile(path.join(src, long), 'long-named content');
    await fsp.writeFile(path.join(src, 'small.txt'), 'hello');
    await fsp.symlink('small.txt', path.join(src, 'link'));
    for (const format of ['posix', 'gnu']) {
      const file = path.join(dir, `t-${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-C', src, '-cf', file, '.']);
      const idx = await indexTar(file);
      const e = idx.entries.get(long)!;
      expect(e.type).toBe('file');
      const fh = await fsp.open(file, 'r');
      const buf = Buffer.alloc(e.size);
      await fh.read(buf, 0, e.size, e.offset);
      await fh.close();
      expect(buf.toString()).toBe('long-named content');
      expect(idx.entries.get('small.txt')!.size).toBe(5);
      expect(idx.entries.get('link')).toMatchObject({ type: 'symlink', linkname: 'small.txt' });
    }
  });

  it('reads the name of a GNU-format member as GNU tar does, not the atime GNU tar -G keeps where ustar has its prefix', async () => {
    const src = path.join(dir, 'incr');
    await fsp.mkdir(src, { recursive: true });
    await fsp.writeFile(path.join(src, 'a.txt'), 'incremental');
    const file = path.join(dir, 'incr.tar');
    execFileSync('tar', ['--format=gnu', '--incremental', '-C', src, '-cf', file, '.']);
    const idx = await indexTar(file);
    expect(execFileSync('tar', ['-tf', file]).toString()).toContain('./a.txt');
    expect(idx.entries.get('a.txt')).toMatchObject({ type: 'file', size: 11 });
    expect([...idx.entries.keys()].filter((n) => n !== '' && n !== 'a.txt')).toEqual([]);
  });

  it('refuses a truncated tar with CORRUPT_ARCHIVE', async () => {
    const src = path.join(dir, 'big');
    await fsp.mkdir(src, { recursive: true });
    await fsp.writeFile(path.join(src, 'data'), Buffer.alloc(100_000, 7));
    const file = path.join(dir, 'trunc.tar');
    execFileSync('tar', ['-C', src, '-cf', file, 'data']);
    await fsp.truncate(file, 50_000);
    await expectCode(indexTar(file), 'CORRUPT_ARCHIVE');
    await fsp.truncate(file, 512 + 100_352); // data complete but no end marker
    await expectCode(indexTar(file), 'CORRUPT_ARCHIVE');
  });

  it('refuses a header with a bad checksum and a file that is not a tar', async () => {
    const file = path.join(dir, 'notatar');
    await fsp.writeFile(file, Buffer.concat([Buffer.from('this is not a tar header'), Buffer.alloc(2000, 1)]));
    await expectCode(indexTar(file), 'CORRUPT_ARCHIVE');
  });

  it('parses octal and base-256 size fields', () => {
    expect(parseTarNumber(Buffer.from('00000000012\0'))).toBe(10);
    const b = Buffer.alloc(12);
    b[0] = 0x80;
    b.writeUIntBE(10 * 1024 ** 3, 6, 6);
    expect(parseTarNumber(b)).toBe(10 * 1024 ** 3);
  });
});

describe('writeTarAtomic', () => {
  it('writes a tar that GNU tar lists and extracts byte for byte, including a 150-character name', async () => {
    const a = path.join(dir, 'a.bin');
    await fsp.writeFile(a, Buffer.alloc(70_000, 3));
    const longName = `updates/${'x'.repeat(150)}.json`;
    const out = path.join(dir, 'w.tar');
    await writeTarAtomic(out, [
      { name: 'blobs', type: 'directory' },
      { name: 'blobs/a.bin', type: 'file', source: a },
      { name: 'updates', type: 'directory' },
      { name: longName, type: 'file', bytes: Buffer.from('{}') },
    ]);
    const list = execFileSync('tar', ['-tf', out]).toString().trim().split('\n');
    expect(list).toEqual(['blobs/', 'blobs/a.bin', 'updates/', longName]);
    const ex = path.join(dir, 'ex');
    await fsp.mkdir(ex);
    execFileSync('tar', ['-C', ex, '-xf', out]);
    expect((await fsp.readFile(path.join(ex, 'blobs/a.bin'))).equals(await fsp.readFile(a))).toBe(true);
    expect((await fsp.readdir(dir)).some((n) => n.startsWith('.ferry-tmp-'))).toBe(false);
  });

  it('leaves nothing behind when a member does not match its digest', async () => {
    const a = path.join(dir, 'lie.bin');
    await fsp.writeFile(a, 'content');
    const out = path.join(dir, 'lie.tar');
    await expectCode(writeTarAtomic(out, [{ name: 'x', type: 'file', source: a, digest: `sha256:${'0'.repeat(64)}` }]), 'DIGEST_MISMATCH');
    expect((await fsp.readdir(dir)).filter((n) => n.includes('lie.tar'))).toEqual([]);
  });
});
