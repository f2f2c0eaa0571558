/**
 * A strict DER reader (ITU-T X.690 section 10) for untrusted signatures, certificates
 * and CRLs. Pure. Refuses what BER allows but DER forbids: indefinite lengths,
 * non-minimal lengths, constructed strings, trailing bytes; caps nesting depth and
 * node count so no input can make it recurse or loop without bound. Every failure is
 * a FerryError (MALFORMED_SIGNATURE unless the caller asks for another code).
 */
import { FerryError, type ErrorCode } from '../errors.js';

/** One parsed TLV. `bytes` is the whole encoding, `content` the value octets. */
export interface DerNode {
  /** The identifier octet (class bits, constructed bit, tag number < 31). */
  tag: number;
  constructed: boolean;
  bytes: Buffer;
  content: Buffer;
  /** Children of a constructed node (empty for primitives). */
  children: DerNode[];
}

/** Universal tags ferry reads. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const MAX_DEPTH = 32;
const MAX_NODES = 20_000;

/** Throw the reader's error (code chosen by the caller of decodeDer). */
function fail(code: ErrorCode, what: string, msg: string): never {
  throw new FerryError(code, `${what} is malformed (${msg}): it is damaged or not a ferry signature; re-copy it from headquarters`);
}

interface State {
  code: ErrorCode;
  what: string;
  nodes: number;
}

/** Decode exactly one DER value that spans all of `buf` (no trailing bytes). */
export function decodeDer(buf: Uint8Array, what = 'signature', code: ErrorCode = 'MALFORMED_SIGNATURE'): DerNode {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const st: State = { code, what, nodes: 0 };
  if (b.length === 0) fail(code, what, 'empty');
  const node = readNode(b, 0, 0, st);
  if (node.bytes.length !== b.length) fail(code, what, `${b.length - node.bytes.length} trailing bytes`);
  return node;
}

function readNode(b: Buffer, off: number, depth: number, st: State): DerNode {
  if (depth > MAX_DEPTH) fail(st.code, st.what, `nesting deeper than ${MAX_DEPTH}`);
  if (++st.nodes > MAX_NODES) fail(st.code, st.what, `more than ${MAX_NODES} elements`);
  if (off + 2 > b.length) fail(st.code, st.what, 'truncated header');
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) fail(st.code, st.what, 'high tag numbers are not used here');
  let len = b[off + 1]!;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) fail(st.code, st.what, 'indefinite length');
    if (n > 4) fail(st.code, st.what, 'length field too long');
    if (off + 2 + n > b.length) fail(st.code, st.what, 'truncated length');
    if (b[off + 2] === 0) fail(st.code, st.what, 'non-minimal length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[off + 2 + i]!;
    if (len < 0x80) fail(st.code, st.what, 'non-minimal length');
    hdr += n;
  }
  const end = off + hdr + len;
  if (end > b.length) fail(st.code, st.what, 'truncated value');
  const constructed = (tag & 0x20) !== 0;
  checkUniversalForm(tag, constructed, st);
  const content = b.subarray(off + hdr, end);
  const children: DerNode[] = [];
  if (constructed) {
    let p = 0;
    while (p < content.length) {
      const child = readNode(content, p, depth + 1, st);
      children.push(child);
      p += child.bytes.length;
    }
  }
  return { tag, constructed, bytes: b.subarray(off, end), content, children };
}

/** DER: SEQUENCE/SET are constructed; strings, integers and OIDs are primitive. */
function checkUniversalForm(tag: number, constructed: boolean, st: State): void {
  if ((tag & 0xc0) !== 0) return;
  const num = tag & 0x1f;
  if (num === 0x10 || num === 0x11) {
    if (!constructed) fail(st.code, st.what, 'primitive SEQUENCE or SET');
  } else if (constructed) fail(st.code, st.what, `constructed form of universal type ${num}`);
}

/** A reader bound to an error code and a name, with typed accessors. */
export class DerReader {
  constructor(
    readonly code: ErrorCode = 'MALFORMED_SIGNATURE',
    readonly what = 'signature',
  ) {}

  /** Fail with this reader's code. */
  fail(msg: string): never {
    return fail(this.code, this.what, msg);
  }

  decode(buf: Uint8Array): DerNode {
    return decodeDer(buf, this.what, this.code);
  }

  /** Check the tag and, for constructed nodes, the child count range. */
  expect(n: DerNode | undefined, tag: number, name: string, min = 0, max = Infinity): DerNode {
    if (n === undefined) this.fail(`${name} is missing`);
    if (n.tag !== tag) this.fail(`${name}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`);
    if (n.children.length < min || n.children.length > max) this.fail(`${name}: ${n.children.length} elements`);
    return n;
  }

  /** An INTEGER's minimal two's-complement bytes (content), refusing non-minimal forms. */
  integerBytes(n: DerNode | undefined, name: string): Buffer {
    const c = this.expect(n, Tag.INTEGER, name).content;
    if (c.length === 0) this.fail(`${name}: empty INTEGER`);
    if (c.length > 1 && ((c[0] === 0 && (c[1]! & 0x80) === 0) || (c[0] === 0xff && (c[1]! & 0x80) !== 0))) this.fail(`${name}: non-minimal INTEGER`);
    return c;
  }

  /** A small non-negative INTEGER as a number. */
  smallInt(n: DerNode | undefined, name: string): number {
    const c = this.integerBytes(n, name);
    if (c[0]! & 0x80) this.fail(`${name}: negative`);
    if (c.length > 6) this.fail(`${name}: too large`);
    return c.reduce((a, x) => a * 256 + x, 0);
  }

  /** A non-negative INTEGER as a bigint. */
  bigInt(n: DerNode | undefined, name: string): bigint {
    const c = this.integerBytes(n, name);
    if (c[0]! & 0x80) this.fail(`${name}: negative`);
    return c.length === 0 ? 0n : BigInt('0x' + c.toString('hex'));
  }

  /** An OBJECT IDENTIFIER in dotted form, refusing non-minimal arcs. */
  oid(n: DerNode | undefined, name: string): string {
    const c = this.expect(n, Tag.OID, name).content;
    if (c.length === 0 || c.length > 64) this.fail(`${name}: bad OID length`);
    const arcs: number[] = [];
    let v = 0;
    let started = false;
    for (let i = 0; i < c.length; i++) {
      const x = c[i]!;
      if (!started && x === 0x80) this.fail(`${name}: non-minimal OID arc`);
      started = true;
      v = v * 128 + (x & 0x7f);
      if (v > Number.MAX_SAFE_INTEGER / 256) this.fail(`${name}: OID arc too large`);
      if ((x & 0x80) === 0) {
        arcs.push(v);
        v = 0;
        started = false;
      } else if (i === c.length - 1) this.fail(`${name}: truncated OID`);
    }
    const first = arcs[0]!;
    const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
    return [...head, ...arcs.slice(1)].join('.');
  }

  /** OCTET STRING content. */
  octets(n: DerNode | undefined, name: string): Buffer {
    return this.expect(n, Tag.OCTET_STRING, name).content;
  }

  /** BIT STRING content with zero unused bits (signatures, keys). */
  bitStringBytes(n: DerNode | undefined, name: string): Buffer {
    const c = this.expect(n, Tag.BIT_STRING, name).content;
    if (c.length === 0 || c[0] !== 0) this.fail(`${name}: expected a whole-byte BIT STRING`);
    return c.subarray(1);
  }

  /** BIT STRING as a bit array (bit 0 first), for keyUsage. */
  bits(n: DerNode | undefined, name: string): boolean[] {
    const c = this.expect(n, Tag.BIT_STRING, name).content;
    if (c.length === 0 || c[0]! > 7 || (c.length === 1 && c[0] !== 0)) this.fail(`${name}: bad BIT STRING`);
    const out: boolean[] = [];
    const total = (c.length - 1) * 8 - c[0]!;
    for (let i = 0; i < total; i++) out.push((c[1 + (i >> 3)]! & (0x80 >> (i & 7))) !== 0);
    return out;
  }

  /** BOOLEAN (DER: 0x00 or 0xff only). */
  boolean(n: DerNode | undefined, name: string): boolean {
    const c = this.expect(n, Tag.BOOLEAN, name).content;
    if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) this.fail(`${name}: bad BOOLEAN`);
    return c[0] === 0xff;
  }

  /** UTCTime or GeneralizedTime in the DER form YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ. */
  time(n: DerNode | undefined, name: string): Date {
    if (n === undefined) this.fail(`${name} is missing`);
    const s = n.content.toString('latin1');
    let m: RegExpExecArray | null;
    let year: number;
    if (n.tag === Tag.UTCTime && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
      const yy = Number(m[1]);
      year = yy >= 50 ? 1900 + yy : 2000 + yy;
    } else if (n.tag === Tag.GeneralizedTime && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
      year = Number(m[1]);
    } else return this.fail(`${name}: not a DER UTCTime/GeneralizedTime`);
    const [mo, d, h, mi, se] = [2, 3, 4, 5, 6].map((i) => Number(m![i]));
    const t = Date.UTC(year, mo! - 1, d, h, mi, se);
    const back = new Date(t);
    if (back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d || h! > 23 || mi! > 59 || se! > 59) this.fail(`${name}: invalid date`);
    return back;
  }
}

/** Context-specific tag byte: [n] (constructed when `constructed`). */
export function ctxTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}
