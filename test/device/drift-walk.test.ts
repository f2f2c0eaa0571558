/**
 * compareTree on a hand-made tree and index: the walk keeps only a compact stat per entry
 * (tree-walk.ts EntryStat), so device numbers, sizes, owners and nanosecond mtimes must
 * still compare exactly as the full stat did.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareTree } from '../../src/device/drift.js';
import { entrySource } from '../../src/device/files/index-reader.js';
import type { FileEntry } from '../../src/device/files/file-index.js';
import { compileIgnores } from '../../src/device/files/glob.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const sha = (s: string): string => execFileSync('sha256sum', { input: s }).toString().slice(0, 64);

/** A tree with a file, a char device, a symlink and a directory, and its exact index. */
function tree(): { root: string; entries: FileEntry[] } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-drift-walk-'));
  dirs.push(root);
  fs.mkdirSync(path.join(root, 'etc'));
  fs.writeFileSync(path.join(root, 'etc/hostname'), 'kiosk\n');
  execFileSync('mknod', ['-m', '0600', path.join(root, 'etc/tty9'), 'c', '4', '9']);
  fs.symlinkSync('hostname', path.join(root, 'etc/name'));
  for (const p of ['etc', 'etc/hostname', 'etc/tty9']) fs.lchownSync(path.join(root, p), 0, 0);
  fs.chmodSync(path.join(root, 'etc'), 0o755);
  fs.chmodSync(path.join(root, 'etc/hostname'), 0o644);
  // a time with nanoseconds: --fast must match it exactly
  execFileSync('touch', ['-h', '-d', '@1700000000.123456789', path.join(root, 'etc/hostname')]);
  const base = { uid: 0, gid: 0, size: 0, mtime: '1700000000' };
  return {
    root,
    entries: [
      { ...base, path: 'etc', type: 'dir', mode: 0o755 },
      { ...base, path: 'etc/hostname', type: 'file', mode: 0o644, size: 6, mtime: '1700000000.123456789', sha256: sha('kiosk\n') },
      { ...base, path: 'etc/name', type: 'symlink', mode: 0o777, link: 'hostname' },
      { ...base, path: 'etc/tty9', type: 'char', mode: 0o600, rdev: '4:9' },
    ],
  };
}

const none = compileIgnores([]);

describe('compareTree with compact stats', () => {
  it('finds an exact tree clean, trusting size and nanosecond mtime with --fast', async () => {
    const { root, entries } = tree();
    const r = await compareTree(root, entrySource(entries), none, none, true);
    expect(r.items).toEqual([]);
    expect(r.clean).toBe(true);
    expect(r.filesHashed).toBe(0);
  });

  it('reports another device number, another size and a removed entry', async () => {
    const { root, entries } = tree();
    const changed = entries.map((e) => (e.path === 'etc/tty9' ? { ...e, rdev: '4:10' } : e.path === 'etc/hostname' ? { ...e, size: 7 } : e));
    changed.push({ path: 'etc/motd', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: '1700000000', sha256: sha('') });
    const r = await compareTree(root, entrySource(changed), none, none, true);
    expect(r.items.map((i) => `${i.change} ${i.path}${i.details ? ` ${i.details.join('; ')}` : ''}`)).toEqual([
      'content /etc/hostname',
      'removed /etc/motd',
      'metadata /etc/tty9 device 4:10 -> 4:9',
    ]);
  });

  it('hashes a file whose mtime differs by a nanosecond and finds its content the same', async () => {
    const { root, entries } = tree();
    const shifted = entries.map((e) => (e.path === 'etc/hostname' ? { ...e, mtime: '1700000000.123456788' } : e));
    const r = await compareTree(root, entrySource(shifted), none, none, true);
    expect(r.clean).toBe(true);
    expect(r.filesHashed).toBe(1);
  });
});
