/**
 * The drift walk yields entries in the file index's order (path bytes), so compareTree can
 * merge it with the index as two sorted streams; directories the index only implies are not
 * drift, and the index is read to its end as the walk goes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareTree, Implied } from '../../src/device/drift.js';
import { comparePaths, type FileEntry } from '../../src/device/files/file-index.js';
import { compileIgnores } from '../../src/device/files/glob.js';
import { type EntrySource, entrySource } from '../../src/device/files/index-reader.js';
import { walkTree } from '../../src/device/files/tree-walk.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const none = compileIgnores([]);

function mktree(files: string[], emptyDirs: string[] = []): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-drift-merge-'));
  dirs.push(root);
  for (const d of emptyDirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), '');
  }
  return root;
}

/** The index a walk of `root` finds (no content hashes: compared with --fast, sizes and mtimes exact). */
async function indexOf(root: string, keep: (p: string) => boolean): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const o of walkTree(root, none)) {
    if (!keep(o.path) || o.type === 'socket') continue;
    const mtime = `${o.st.mtimeNs / 1_000_000_000n}.${String(o.st.mtimeNs % 1_000_000_000n).padStart(9, '0')}`;
    out.push({ path: o.path, type: o.type, mode: o.st.mode & 0o7777, uid: o.st.uid, gid: o.st.gid, size: o.type === 'file' ? o.st.size : 0, mtime, ...(o.type === 'file' ? { sha256: '0'.repeat(64) } : {}) });
  }
  return out;
}

describe('walkTree order', () => {
  it('yields paths in byte order, a directory\'s subtree after its siblings that sort before "/"', async () => {
    const root = mktree(['a-b', 'a/c-d/e', 'a/c.x', 'a0', 'b/a', 'A', 'a/c/f'], ['a/c/g']);
    const got: string[] = [];
    for await (const o of walkTree(root, none)) got.push(o.path);
    expect(got).toEqual([...got].sort(comparePaths));
    expect(got).toEqual(['', 'A', 'a', 'a-b', 'a/c', 'a/c-d', 'a/c-d/e', 'a/c.x', 'a/c/f', 'a/c/g', 'a0', 'b', 'b/a']);
  });
});

describe('compareTree as a merge', () => {
  it('finds a tree clean when the index lists only the leaves below some directories (implied ones)', async () => {
    const root = mktree(['a-b', 'usr/lib/x/y', 'usr/lib/z', 'usr-local']);
    const index = await indexOf(root, (p) => p !== 'usr' && p !== 'usr/lib' && p !== 'usr/lib/x');
    const r = await compareTree(root, entrySource(index), none, none, true);
    expect(r.items).toEqual([]);
    expect(r.clean).toBe(true);
  });

  it('reports added directories (and what is below them), removed entries, and reads the index to its end', async () => {
    const root = mktree(['etc/a', 'new/sub/f', 'new-file', 'z'], ['empty-new']);
    const index = await indexOf(root, (p) => !p.startsWith('new') && !p.startsWith('empty-new'));
    const gone: FileEntry = { path: 'zz/gone', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: '1', sha256: '0'.repeat(64) };
    let reads = 0;
    const src = entrySource([...index, { ...gone, path: 'etc/b' }, gone].sort((x, y) => comparePaths(x.path, y.path)));
    const counted: EntrySource = { read: () => (reads++, src.read()), close: () => undefined };
    const r = await compareTree(root, counted, none, none, true);
    expect(r.items.map((i) => `${i.change} ${i.path}`)).toEqual(['added /empty-new', 'removed /etc/b', 'added /new', 'added /new-file', 'added /new/sub', 'added /new/sub/f', 'removed /zz/gone']);
    expect(r.counts).toEqual({ added: 5, removed: 2, content: 0, metadata: 0 });
    expect(reads).toBe(index.length + 3);
  });
});

describe('Implied', () => {
  it('decides a directory once the index cursor reaches "<dir>/": below it implied, past it added', () => {
    const added: string[] = [];
    const u = new Implied((d) => added.push(d));
    u.add('a', 'a-b'); // "a-b" sorts before "a/": not decided yet
    u.seen('a/c'); // an entry below: implied
    u.add('b', 'b/x');
    u.add('c', 'd');
    u.add('e', 'e.x');
    u.seen(undefined);
    expect(added).toEqual(['c', 'e']);
  });
});
