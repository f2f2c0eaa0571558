/**
 * Test helpers over whole tar streams in memory: list every header block (extended
 * headers included) with ferry's own decoders, and list an archive with GNU tar.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { BLOCK, isZeroBlock, paddedSize, parseHeader, parsePaxRecords, type RawHeader } from '../../../src/oci/tar-header.js';

/** One header block of a stream and, for 'x'/'g' headers, its records. */
export interface WalkedHeader {
  header: RawHeader;
  pax?: Map<string, string>;
}

/** Every header of a tar stream up to its end-of-archive block. */
export function walkTar(tar: Buffer): WalkedHeader[] {
  const out: WalkedHeader[] = [];
  for (let off = 0; off + BLOCK <= tar.length; ) {
    const block = tar.subarray(off, off + BLOCK);
    if (isZeroBlock(block)) break;
    const header = parseHeader(block, 'walk');
    const data = tar.subarray(off + BLOCK, off + BLOCK + header.size);
    out.push(header.typeflag === 'x' || header.typeflag === 'g' ? { header, pax: parsePaxRecords(data, 'walk') } : { header });
    off += BLOCK + paddedSize(header.size);
  }
  return out;
}

/** `tar -tv` of an archive, one line per member; undefined when GNU tar exits non-zero. */
export function gnuTarList(tar: Buffer, extra: string[] = []): string[] | undefined {
  const r = spawnSync('tar', ['-tv', '--numeric-owner', '--full-time', '--quoting-style=escape', ...extra, '-f', '-'], { input: tar, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' }, maxBuffer: 256 << 20 });
  if (r.status !== 0) return undefined;
  return r.stdout.toString('latin1').split('\n').filter(Boolean);
}

/** Extract an archive into `dir` with the device's own GNU tar options. */
export function gnuTarExtract(tar: Buffer, dir: string): void {
  execFileSync('tar', ['-x', '-f', '-', '--numeric-owner', '--same-owner', '-p', '--xattrs', '--xattrs-include=*', '--warning=no-timestamp', '-C', dir], { input: tar, maxBuffer: 256 << 20 });
}

/** One member as `tar -tv --numeric-owner --full-time --quoting-style=escape` shows it. */
export interface ListedEntry {
  /** ls-style type letter: - h l c b d p (and others GNU tar knows). */
  type: string;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Size, or "major,minor" for devices. */
  size: string;
  mtime: string;
  /** Name as a byte string, normalised ("./a//b/" is "a/b", the root is ""). */
  name: string;
  /** Symlink or hardlink target as a byte string ("" for other types). */
  link: string;
}

/** Undo --quoting-style=escape (C escapes and \ooo octal bytes) into a byte string. */
function unescape(s: string): string {
  const named: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', ' ': ' ' };
  return s.replace(/\\([0-7]{3}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(parseInt(e, 8)) : (named[e] ?? e)));
}

/** "./a//b/" -> "a/b"; the root is "". */
export function normalName(n: string): string {
  return n.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

function modeOf(perm: string): number {
  let m = 0;
  for (let i = 0; i < 9; i++) if (perm[i] !== '-') m |= 1 << (8 - i);
  if ('sS'.includes(perm[2]!)) m |= 0o4000;
  if ('sS'.includes(perm[5]!)) m |= 0o2000;
  if ('tT'.includes(perm[8]!)) m |= 0o1000;
  return m;
}

const LINE = /^(.)(.{9}) (\d+)\/(\d+) +(\d+|\d+,\d+) (-?\d+-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) +(.*)$/;

/** Parse `tar -tv` lines (names must not contain " -> " or " link to ", which the fuzzer never makes). */
export function parseListing(lines: string[]): ListedEntry[] {
  return lines.map((line) => {
    const m = LINE.exec(line);
    if (!m) throw new Error(`cannot parse tar -tv line ${JSON.stringify(line)}`);
    const [, type, perm, uid, gid, size, mtime, rest] = m as unknown as string[];
    let name = rest!;
    let link = '';
    const sep = type === 'l' ? ' -> ' : type === 'h' ? ' link to ' : undefined;
    if (sep !== undefined && name.includes(sep)) [name, link] = [name.slice(0, name.indexOf(sep)), name.slice(name.indexOf(sep) + sep.length)];
    link = unescape(link);
    return { type: type!, mode: modeOf(perm!), uid: Number(uid), gid: Number(gid), size: size!, mtime: mtime!, name: normalName(unescape(name)), link: type === 'h' ? normalName(link) : link };
  });
}

/** Recompute a header block's checksum in place (after a test changed its bytes). */
export function fixChecksum(h: Buffer, off = 0): Buffer {
  h.write('        ', off + 148, 'latin1');
  let sum = 0;
  for (let i = off; i < off + BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 'latin1');
  return h;
}
