import { describe, expect, it } from 'vitest';
import { Flag, PathTrie, ROOT } from '../../../src/device/extract/path-trie.js';

describe('PathTrie', () => {
  it('stores each component once and finds paths by component', () => {
    const t = new PathTrie('layer');
    const c = t.add('usr/lib/libc.so');
    expect(t.size).toBe(4);
    expect(t.add('usr/lib/libm.so')).not.toBe(c);
    expect(t.size).toBe(5);
    expect(t.find('usr/lib/libc.so')).toBe(c);
    expect(t.find('usr/lib')).toBe(t.parent(c));
    expect(t.find('usr/li')).toBe(-1);
    expect(t.find('')).toBe(ROOT);
    expect(t.pathOf(c)).toBe('usr/lib/libc.so');
  });

  it('keeps byte strings exact (names that are not UTF-8) and survives growth', () => {
    const t = new PathTrie('layer');
    const ids = Array.from({ length: 5000 }, (_, i) => t.add(`d\xff${i % 70}/f\xfe${i}`));
    for (let i = 0; i < 5000; i += 97) {
      expect(t.find(`d\xff${i % 70}/f\xfe${i}`)).toBe(ids[i]);
      expect(t.pathOf(ids[i]!)).toBe(`d\xff${i % 70}/f\xfe${i}`);
    }
    expect(t.size).toBe(1 + 70 + 5000);
  });

  it('lists descendants and keeps flags per node', () => {
    const t = new PathTrie('layer');
    const a = t.add('a');
    const deep = t.add('a/b/c');
    t.add('x/y');
    t.flags[deep]! |= Flag.DIR_KNOWN;
    expect([...t.descendants(a)].map((n) => t.pathOf(n)).sort()).toEqual(['a/b', 'a/b/c']);
    expect(t.flags[deep]! & Flag.DIR_KNOWN).toBe(Flag.DIR_KNOWN);
    expect(t.flags[a]).toBe(0);
  });
});
