import { describe, expect, it } from 'vitest';
import type { FileEntry } from '../../src/device/files/file-index.js';
import type { EntrySource, IndexSource } from '../../src/device/files/index-reader.js';
import { diffPlan } from '../../src/device/reuse.js';
import { FINAL_DIR, FINAL_UNCHANGED } from '../../src/device/types.js';

const file = (path: string, sha = 'a'): FileEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 10, mtime: '1', sha256: sha.repeat(64) });
const dir = (path: string, xattrs?: string): FileEntry => ({ path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: '1', ...(xattrs ? { xattrs } : {}) });

/** An entry source over a sorted list that logs each read into `log` as its name. */
function source(name: string, entries: FileEntry[], log: string[]): EntrySource {
  let i = 0;
  return {
    read: async () => {
      log.push(name);
      return entries[i++];
    },
    close: () => undefined,
  };
}

const unused: IndexSource = { image: `sha256:${'0'.repeat(64)}`, open: () => { throw new Error('not read by the plan'); } };

describe('diffPlan', () => {
  it('merges the two sorted indexes: unchanged, changed, replaced, and removed subtrees once', async () => {
    const log: string[] = [];
    const old = [dir(''), dir('etc'), file('etc/a'), file('etc/b'), dir('gone'), file('gone/x'), dir('gone/sub'), file('gone/sub/y'), file('old-only'), file('z')];
    const next = [dir(''), dir('etc'), file('etc/a'), file('etc/b', 'b'), file('etc/c'), dir('new'), file('z')];
    const r = await diffPlan(source('old', old, log), source('new', next, log), unused, 0);
    expect(r.mode).toMatchObject({ mode: 'incremental', reason: '2 of 7 entries unchanged', changedBytes: 20, totalBytes: 40 });
    expect(r.reuse?.remove).toEqual(['gone', 'old-only']);
    expect(r.reuse?.replace).toEqual(['etc/b']);
    expect(Object.fromEntries(r.reuse!.final)).toEqual({ '': FINAL_DIR, etc: FINAL_DIR, 'etc/a': FINAL_UNCHANGED, 'etc/b': 0, 'etc/c': 0, new: FINAL_DIR, z: FINAL_UNCHANGED });
  });

  it('pulls the two streams in step, never one ahead of the other by more than an entry (memory is a window, not an index)', async () => {
    const log: string[] = [];
    const n = 5000;
    const old = Array.from({ length: n }, (_, i) => file(`f${String(i).padStart(5, '0')}`));
    const next = old.map((e, i) => (i % 10 === 0 ? file(e.path, 'b') : e));
    await diffPlan(source('old', old, log), source('new', next, log), unused, 0);
    let lead = 0;
    let worst = 0;
    for (const s of log) {
      lead += s === 'old' ? 1 : -1;
      worst = Math.max(worst, Math.abs(lead));
    }
    expect(log.length).toBe(2 * (n + 1));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('writes in full when a directory changes its extended attributes', async () => {
    const log: string[] = [];
    const r = await diffPlan(source('old', [dir(''), dir('etc', `sha256:${'1'.repeat(64)}`)], log), source('new', [dir(''), dir('etc', `sha256:${'2'.repeat(64)}`)], log), unused, 0);
    expect(r).toEqual({ mode: { mode: 'full', reason: 'the extended attributes of directory /etc change' } });
  });
});
