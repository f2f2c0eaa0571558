/**
 * rootfs: input → a deterministic single-layer OCI image. GNU tar packs the directory
 * (it keeps binary xattrs such as security.capability, uids above 262143, device nodes,
 * hardlinks and symlinks, which tar-stream would corrupt: see DEPENDENCIES.md); Node
 * hashes and compresses its stdout in one stream. Same tree + same epoch ⇒ same digest.
 *
 * Member names: the top-level entries of the directory, without "./" (like
 * `docker export` and umoci), children as "etc/os-release"; the root itself is omitted.
 */
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { detectCompression } from './compress.js';
import type { Compression, Platform } from './types.js';

/** GNU tar arguments for a deterministic layer of `dir` (pax format, sorted, clamped times). */
export function rootfsTarArgs(dir: string, members: string[], sourceDateEpoch: number): string[] {
  return [
    '--create',
    '--file=-',
    '--sort=name',
    '--format=posix',
    '--numeric-owner',
    '--xattrs',
    '--xattrs-include=*',
    `--mtime=@${sourceDateEpoch}`,
    '--clamp-mtime',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C',
    dir,
    '--',
    ...members,
  ];
}

/** Top-level names of `dir`, sorted bytewise (tar --sort=name sorts only below them). */
export async function topLevelMembers(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir);
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Run GNU tar over `dir` and return its stdout; the stream fails unless tar exits 0. */
export async function packRootfsDir(dir: string, sourceDateEpoch: number): Promise<Readable> {
  const members = await topLevelMembers(dir);
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  if (members.length === 0) {
    // tar refuses an empty member list; an empty layer is just the end marker
    out.end(Buffer.alloc(10240));
    return out;
  }
  const child = spawn('tar', rootfsTarArgs(dir, members, sourceDateEpoch), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString();
  });
  child.stdout.pipe(out, { end: false });
  child.on('error', (e) => out.destroy(new FerryError('COMMAND_FAILED', `cannot run GNU tar to pack ${dir}: ${e.message}; install tar`, { cause: e })));
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new FerryError('IO_ERROR', `GNU tar could not pack ${dir} (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}

/** Compression of a rootfs tarball file, from its first bytes. */
export async function tarballCompression(file: string): Promise<Compression> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** The image config of a rootfs image: fixed key order, created from the epoch (deterministic). */
export function rootfsConfig(platform: Platform, diffIds: string[], sourceDateEpoch: number): Buffer {
  const created = new Date(sourceDateEpoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const cfg: Record<string, unknown> = { created, architecture: platform.architecture, os: platform.os };
  if (platform.variant) cfg.variant = platform.variant;
  cfg.config = {};
  cfg.rootfs = { type: 'layers', diff_ids: diffIds };
  cfg.history = diffIds.map(() => ({ created, created_by: 'ferry export rootfs' }));
  return Buffer.from(JSON.stringify(cfg));
}
