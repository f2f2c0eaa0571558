/**
 * A compact trie of normalised entry paths for the layer gate: one node per distinct
 * path component, each component's bytes stored once in an arena, everything else in
 * typed arrays with an open-addressing (parent, name) index. About 50 bytes a node
 * plus its name, no per-node JS objects or strings, so memory grows with the distinct
 * components (never with depth times entries, as a set of full ancestor paths did:
 * issue 9, finding 4), and a hard cap stops a hostile layer with LIMIT_EXCEEDED.
 */
import { FerryError } from '../../errors.js';

/** Node 0 is the slot root (path ""). */
export const ROOT = 0;

/** Bits of a node's flags. */
export const Flag = {
  /** What this layer wrote there (two bits): 0 nothing, 1 dir, 2 symlink, 3 other. */
  KIND_MASK: 3,
  /** A path this layer wrote lies below (tar created or filled this directory). */
  ANCESTOR: 4,
  /** Known to be a real directory right now (this layer's, or a lower one checked with lstat). */
  DIR_KNOWN: 8,
  /** A `.wh.<name>` whiteout of this layer removes this path from lower layers. */
  WO_REMOVE: 16,
  /** A `.wh..wh..opq` of this layer hides this directory's lower-layer children. */
  WO_OPAQUE: 32,
  /** Checked with lstat: nothing is there on disk (so nothing is below it either). */
  ABSENT: 64,
} as const;

/** Caps on what one layer's trie may hold: at most about 150 MiB together. */
export const TrieCaps = {
  nodes: 2_000_000,
  nameBytes: 32 * 1024 * 1024,
} as const;

const START = 1024;

/** FNV-1a over the parent id and the component's bytes (latin1 chars). */
function hashOf(parent: number, s: string, start: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ parent, 16777619);
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The trie; paths are byte strings ("a/b", "" is the root), already normalised. */
export class PathTrie {
  private count = 1;
  private arena = Buffer.alloc(64 * 1024);
  private arenaUsed = 0;
  private nameOff = new Int32Array(START);
  private nameLen = new Int32Array(START);
  private hash = new Int32Array(START);
  private parentOf = new Int32Array(START);
  private firstChild = new Int32Array(START).fill(-1);
  private nextSibling = new Int32Array(START).fill(-1);
  /** Per-node flags (see Flag); the gate reads and writes them directly. */
  flags = new Uint8Array(START);
  /** Open addressing, linear probing: node ids, -1 for empty; at most half full. */
  private table = new Int32Array(2 * START).fill(-1);

  constructor(private readonly what: string) {}

  /** Number of nodes (the root included). */
  get size(): number {
    return this.count;
  }

  /** The child of `parent` named s[start, end), or -1. */
  child(parent: number, s: string, start = 0, end = s.length): number {
    const h = hashOf(parent, s, start, end);
    const mask = this.table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const n = this.table[i]!;
      if (n === -1) return -1;
      if (this.hash[n] === (h | 0) && this.parentOf[n] === parent && this.nameIs(n, s, start, end)) return n;
    }
  }

  /** The child of `parent` named s[start, end), created when absent. */
  childOrAdd(parent: number, s: string, start = 0, end = s.length): number {
    const known = this.child(parent, s, start, end);
    if (known !== -1) return known;
    const len = end - start;
    if (this.count >= TrieCaps.nodes || this.arenaUsed + len > TrieCaps.nameBytes) {
      throw new FerryError('LIMIT_EXCEEDED', `${this.what}: the layer names more than ${TrieCaps.nodes} distinct paths or ${TrieCaps.nameBytes >> 20} MiB of path components; ferry refuses it to keep memory bounded: split the image into more layers`);
    }
    if (this.count === this.parentOf.length) this.growNodes();
    if (2 * (this.count + 1) > this.table.length) this.growTable();
    if (this.arenaUsed + len > this.arena.length) this.growArena(len);
    const id = this.count++;
    this.arena.write(s.slice(start, end), this.arenaUsed, 'latin1');
    this.nameOff[id] = this.arenaUsed;
    this.nameLen[id] = len;
    this.arenaUsed += len;
    this.hash[id] = hashOf(parent, s, start, end) | 0;
    this.parentOf[id] = parent;
    this.nextSibling[id] = this.firstChild[parent]!;
    this.firstChild[parent] = id;
    this.place(id);
    return id;
  }

  /** The node of path `p`, or -1 when some component is absent. */
  find(p: string): number {
    let node = ROOT;
    for (let start = 0; p !== '' && node !== -1; ) {
      const slash = p.indexOf('/', start);
      const end = slash === -1 ? p.length : slash;
      node = this.child(node, p, start, end);
      if (slash === -1) break;
      start = slash + 1;
    }
    return node;
  }

  /** The node of path `p`, created with its ancestors when absent. */
  add(p: string): number {
    let node = ROOT;
    for (let start = 0; p !== ''; ) {
      const slash = p.indexOf('/', start);
      const end = slash === -1 ? p.length : slash;
      node = this.childOrAdd(node, p, start, end);
      if (slash === -1) break;
      start = slash + 1;
    }
    return node;
  }

  /** The parent node (-1 for the root). */
  parent(node: number): number {
    return node === ROOT ? -1 : this.parentOf[node]!;
  }

  /** The path of a node, rebuilt from its components. */
  pathOf(node: number): string {
    const parts: string[] = [];
    for (let n = node; n !== ROOT; n = this.parentOf[n]!) parts.push(this.arena.toString('latin1', this.nameOff[n]!, this.nameOff[n]! + this.nameLen[n]!));
    return parts.reverse().join('/');
  }

  /** Every node strictly below `node`. */
  *descendants(node: number): Generator<number> {
    const stack = [node];
    while (stack.length) {
      for (let c = this.firstChild[stack.pop()!]!; c !== -1; c = this.nextSibling[c]!) {
        yield c;
        stack.push(c);
      }
    }
  }

  private nameIs(n: number, s: string, start: number, end: number): boolean {
    if (this.nameLen[n] !== end - start) return false;
    const off = this.nameOff[n]! - start;
    for (let i = start; i < end; i++) if (this.arena[off + i] !== s.charCodeAt(i)) return false;
    return true;
  }

  private place(id: number): void {
    const mask = this.table.length - 1;
    let i = (this.hash[id]! >>> 0) & mask;
    while (this.table[i] !== -1) i = (i + 1) & mask;
    this.table[i] = id;
  }

  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2).fill(-1);
    for (let id = 1; id < this.count; id++) this.place(id);
  }

  private growArena(need: number): void {
    let n = this.arena.length * 2;
    while (n < this.arenaUsed + need) n *= 2;
    const b = Buffer.alloc(Math.min(n, TrieCaps.nameBytes));
    this.arena.copy(b, 0, 0, this.arenaUsed);
    this.arena = b;
  }

  private growNodes(): void {
    const n = Math.min(this.parentOf.length * 2, TrieCaps.nodes);
    const widen = <T extends Int32Array | Uint8Array>(a: T, fill: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      if (fill !== 0) b.fill(fill);
      b.set(a);
      return b;
    };
    this.nameOff = widen(this.nameOff, 0);
    this.nameLen = widen(this.nameLen, 0);
    this.hash = widen(this.hash, 0);
    this.parentOf = widen(this.parentOf, 0);
    this.firstChild = widen(this.firstChild, -1);
    this.nextSibling = widen(this.nextSibling, -1);
    this.flags = widen(this.flags, 0);
  }
}
