/**
 * Test generators for layers and layouts: a raw tar writer that can spell anything
 * (including what a careful tool refuses to write: "../" names, hardlinks out of the
 * root, sparse and binary pax records), GNU tar packing of real directories, and a
 * tiny OCI layout writer for the layers it makes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { OciLayout, type ResolvedImage } from '../../src/oci/layout.js';
import type { Compression } from '../../src/oci/types.js';

/** One raw tar entry. `pax` values may be Buffers (binary xattrs). */
export interface RawEntry {
  name: string;
  type?: '0' | '1' | '2' | '3' | '4' | '5' | '6' | 'S' | 'D' | 'x';
  data?: Buffer | string;
  /** Overrides the size field (to lie about it). */
  size?: number;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string | Buffer>;
  /** Emit a GNU 'L' long-name record with this name. */
  gnuLongName?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, type: string, size: number, e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'latin1');
  h.write(octal(e.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100, 'latin1');
  h.write(octal(Math.min(e.uid ?? 0, 0o7777777), 8), 108, 'latin1');
  h.write(octal(Math.min(e.gid ?? 0, 0o7777777), 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(1_700_000_000, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(type, 156, 'latin1');
  h.write((e.linkname ?? '').slice(0, 100), 157, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  h.write(octal(e.devmajor ?? 0, 8), 329, 'latin1');
  h.write(octal(e.devminor ?? 0, 8), 337, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

function pad(b: Buffer): Buffer {
  const rest = b.length % 512;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(512 - rest)]);
}

function paxRecords(pax: Record<string, string | Buffer>): Buffer {
  const recs = Object.entries(pax).map(([k, v]) => {
    const body = Buffer.concat([Buffer.from(` ${k}=`, 'latin1'), Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'), Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    return Buffer.concat([Buffer.from(String(len)), body]);
  });
  return Buffer.concat(recs);
}

/** The bytes of one entry: optional pax / GNU long-name headers, the header, padded data. */
export function tarEntryBytes(e: RawEntry): Buffer {
  const type = e.type ?? '0';
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, 'utf8');
  const parts: Buffer[] = [];
  if (e.pax) {
    const recs = paxRecords(e.pax);
    parts.push(header('PaxHeaders/x', 'x', recs.length, { name: '' }), pad(recs));
  }
  if (e.gnuLongName !== undefined) {
    const n = Buffer.from(`${e.gnuLongName}\0`, 'latin1');
    parts.push(header('././@LongLink', 'L', n.length, { name: '' }), pad(n));
  }
  parts.push(header(e.name, type, e.size ?? data.length, e), pad(data));
  return Buffer.concat(parts);
}

/** A whole tar archive of raw entries, with the two zero blocks at the end. */
export function tarArchive(entries: RawEntry[], opts: { endMarker?: boolean } = {}): Buffer {
  return Buffer.concat([...entries.map(tarEntryBytes), opts.endMarker === false ? Buffer.alloc(0) : Buffer.alloc(1024)]);
}

/** Pack a directory with GNU tar the way an OS image exporter does (pax, xattrs, numeric ids). */
export function gnuTarDir(dir: string): Buffer {
  return execFileSync('tar', ['--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '--sort=name', '-C', dir, '-cf', '-', '.'], { maxBuffer: 512 * 1024 * 1024 });
}

/** Compress a layer. */
export function compress(tar: Buffer, c: Compression): Buffer {
  return c === 'gzip' ? zlib.gzipSync(tar) : c === 'zstd' ? zlib.zstdCompressSync(tar) : tar;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

/** One layer for writeTestLayout: its tar, compression and optionally a lying diff_id / blob. */
export interface TestLayer {
  tar: Buffer;
  compression?: Compression;
  /** Stored blob bytes instead of the compressed tar (for corrupt-blob tests); the descriptor still describes them. */
  blob?: Buffer;
  /** diff_id to put in the config instead of the real one. */
  diffId?: string;
  /** Blob bytes to write under the descriptor's digest (tampering after signing). */
  tamperedBlob?: Buffer;
}

async function putBlob(root: string, bytes: Buffer, storeAs?: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha(bytes);
  await fsp.writeFile(path.join(root, 'blobs', 'sha256', digest.slice(7)), storeAs ?? bytes);
  return { digest, size: bytes.length };
}

/** Write an OCI layout holding one image of `layers` under `ref`; returns it opened and resolved. */
export async function writeTestLayout(root: string, layers: TestLayer[], ref = 'test-1.0.0'): Promise<{ layout: OciLayout; image: ResolvedImage }> {
  await fsp.mkdir(path.join(root, 'blobs', 'sha256'), { recursive: true });
  await fsp.writeFile(path.join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const descs = [];
  for (const l of layers) {
    const c = l.compression ?? 'gzip';
    const blob = l.blob ?? compress(l.tar, c);
    descs.push({ mediaType: MEDIA[c], ...(await putBlob(root, blob, l.tamperedBlob)) });
  }
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId ?? sha(l.tar)) }, config: {} }),
  );
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await putBlob(root, config)) };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: descs }));
  const mDesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...(await putBlob(root, manifest)), annotations: { 'org.opencontainers.image.ref.name': ref } };
  await fsp.writeFile(path.join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [mDesc] }));
  const layout = await OciLayout.open(root);
  const image = await layout.resolveImage(await layout.findRef(ref), undefined, ref);
  return { layout, image };
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Populate `dir` (as root) with everything a faithful OS-image round trip must keep:
 * file capabilities (binary security.capability), an SELinux label, trusted.* and
 * binary user.* xattrs, char and block devices, a fifo, setuid and sticky modes,
 * owners above 262143 (the ustar limit), hardlinks, absolute and relative symlinks,
 * a non-ASCII name and a name longer than 100 bytes.
 */
export async function buildFidelityRootfs(dir: string): Promise<void> {
  const p = (rel: string): string => path.join(dir, rel);
  for (const d of ['etc', 'usr/bin', 'usr/lib', 'dev', 'run', 'home/big', 'tmp', 'empty', `deep/${'n'.repeat(60)}/${'m'.repeat(60)}`]) await fsp.mkdir(p(d), { recursive: true });
  await fsp.writeFile(p('etc/hostname'), 'kiosk\n');
  await fsp.writeFile(p('usr/bin/ping'), '#!/bin/sh\necho ping\n', { mode: 0o755 });
  sh('setcap', ['cap_net_raw+ep', p('usr/bin/ping')]);
  await fsp.writeFile(p('usr/bin/su'), 'su', { mode: 0o755 });
  await fsp.chmod(p('usr/bin/su'), 0o4755);
  await fsp.writeFile(p('usr/lib/libc.so.6'), Buffer.alloc(70_000, 0xab));
  await fsp.link(p('usr/lib/libc.so.6'), p('usr/lib/libc-hard.so'));
  await fsp.symlink('usr/lib', p('lib'));
  await fsp.symlink('/usr/lib/libc.so.6', p('usr/lib/libc.so'));
  sh('mknod', [p('dev/null'), 'c', '1', '3']);
  sh('mknod', [p('dev/loop7'), 'b', '7', '7']);
  sh('mkfifo', [p('run/initctl')]);
  await fsp.chmod(p('tmp'), 0o1777);
  await fsp.writeFile(p('home/big/file'), 'owned by a big uid\n');
  await fsp.chown(p('home/big/file'), 300000, 300000);
  await fsp.chown(p('home/big'), 300000, 300000);
  await fsp.writeFile(p('home/huge-id'), 'x');
  await fsp.chown(p('home/huge-id'), 3_000_000_000, 2_500_000_000);
  await fsp.writeFile(p('etc/labelled'), 'selinux');
  sh('setfattr', ['-n', 'security.selinux', '-v', 'system_u:object_r:etc_t:s0', p('etc/labelled')]);
  sh('setfattr', ['-n', 'user.binary', '-v', '0x00ff10fe80', p('etc/labelled')]);
  sh('setfattr', ['-n', 'trusted.overlay.x', '-v', '0x0001', p('etc/hostname')]);
  await fsp.writeFile(p('etc/ünïcødé'), 'utf-8 name');
  await fsp.writeFile(p(`deep/${'n'.repeat(60)}/${'m'.repeat(60)}/long-file-name`), 'long');
}
