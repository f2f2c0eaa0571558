/**
 * Red team (issue 9): sticks beyond the hostile corpus, run through the same harness
 * (exact code, running slot byte-identical, nothing written around the slots, trust
 * unchanged, state readable with lastResult, no lock left, the next good stick installs).
 * Signer attacks on special files at install time (a FIFO or a block device node replaced
 * in the same or a later layer, through a hardlink), inode exhaustion of a slot that
 * shares its file system with the state directory, and chunk-index edge cases.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { expect } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import type { Jail } from '../helpers/hostile-device.js';
import type { PublishSpec } from '../helpers/hostile-stick.js';
import { type RawEntry, tarArchive } from '../helpers/layers.js';
import { type CaseCtx, defineCorpus, type HostileCase } from '../hostile/harness.js';

const MiB = 1 << 20;

function signed(name: string, tries: string, want: ErrorCode | 'ok', spec: (ctx: CaseCtx) => Omit<PublishSpec, 'version' | 'counter'>, extra: Partial<HostileCase> = {}): HostileCase {
  return {
    name,
    attacker: 'signer',
    tries,
    expect: want,
    async stick(ctx) {
      const media = await ctx.hk.newMedia();
      await ctx.hk.publish(media, { version: '6.6.6', counter: 666, ...spec(ctx) });
      return media;
    },
    ...extra,
  };
}

/** A loop device over a 1 MiB canary file beside the slots: a block node aimed at it must never be written through. */
const loops = new Map<string, { dev: string; file: string; major: number; minor: number }>();
async function canaryLoop(j: Jail): Promise<{ major: number; minor: number }> {
  const file = path.join(j.dev.root, 'loop-canary.img');
  await fsp.writeFile(file, Buffer.alloc(MiB, 0x5a));
  const dev = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  j.onCleanup.push(async () => void execFileSync('losetup', ['-d', dev]));
  const rdev = fs.statSync(dev).rdev;
  const ids = { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
  loops.set(j.dev.root, { dev, file, ...ids });
  return ids;
}
async function loopUntouched({ jail }: CaseCtx): Promise<void> {
  const l = loops.get(jail.dev.root)!;
  const bytes = await fsp.readFile(l.file);
  expect(bytes.equals(Buffer.alloc(MiB, 0x5a)), 'the block device behind a node in the image was written').toBe(true);
}

/** Cases whose layers need the loop device's numbers: made in `stick`, after `prepare`. */
function viaNode(name: string, tries: string, layers: (n: { major: number; minor: number }) => RawEntry[][]): HostileCase {
  let ids = { major: 0, minor: 0 };
  return {
    name,
    attacker: 'signer',
    tries,
    expect: 'ok',
    async prepare({ jail }) {
      ids = await canaryLoop(jail);
    },
    async stick(ctx) {
      const media = await ctx.hk.newMedia();
      await ctx.hk.publish(media, { version: '6.6.6', counter: 666, layers: layers(ids).map((l) => ({ tar: tarArchive(l) })) });
      return media;
    },
    check: loopUntouched,
  };
}

const DATA = 'PWNED'.repeat(200);
const node = (name: string, n: { major: number; minor: number }): RawEntry => ({ name, type: '4', devmajor: n.major, devminor: n.minor, mode: 0o600 });

/** Slot B and the state dir on one tmpfs with few inodes (bytes aplenty). */
async function fewInodes(j: Jail, inodes: number): Promise<void> {
  const mnt = path.join(j.dev.root, 'few-inodes');
  await fsp.mkdir(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=256m,nr_inodes=${inodes}`, 'ferry-redteam', mnt]);
  j.onCleanup.push(async () => void execFileSync('umount', [mnt]));
  const cfg = JSON.parse(await fsp.readFile(j.dev.configFile, 'utf8'));
  j.slotDirs.B = cfg.slots.B.path = path.join(mnt, 'slot');
  await fsp.mkdir(j.slotDirs.B);
  j.dev.stateDir = cfg.stateDir = path.join(mnt, 'state');
  await fsp.mkdir(j.dev.stateDir, { mode: 0o700 });
  await fsp.writeFile(j.dev.configFile, JSON.stringify(cfg, null, 2));
}

const manyFiles = (n: number): RawEntry[] => [{ name: 'd/', type: '5' }, ...Array.from({ length: n }, (_, i) => ({ name: `d/f${i}`, data: '' }))];

export const REDTEAM_CASES: HostileCase[] = [
  signed('fifo-then-file-same-layer', 'a FIFO x, then a regular file x in the same layer (tar must replace it, never open the FIFO for writing)', 'ok', () => ({
    layers: [{ tar: tarArchive([{ name: 'x', type: '6' }, { name: 'x', data: DATA }]) }],
  })),
  signed('fifo-then-hardlink-file', 'a FIFO x, a hardlink h to it, then a regular file h in the same layer', 'ok', () => ({
    layers: [{ tar: tarArchive([{ name: 'x', type: '6' }, { name: 'h', type: '1', linkname: 'x' }, { name: 'h', data: DATA }]) }],
  })),
  signed('fifo-lower-then-file', 'a FIFO x in layer 1, a regular file x in layer 2', 'ok', () => ({
    layers: [{ tar: tarArchive([{ name: 'x', type: '6' }]) }, { tar: tarArchive([{ name: 'x', data: DATA }]) }],
  })),
  viaNode('blockdev-then-file-same-layer', 'a block node aimed at a device-side loop device, then a regular file of that name in the same layer', (n) => [[{ name: 'dev/', type: '5' }, node('dev/sda', n), { name: 'dev/sda', data: DATA }]]),
  viaNode('blockdev-hardlink-then-file', 'a block node, a hardlink to it, then a regular file of the hardlink name', (n) => [[node('n', n), { name: 'h', type: '1', linkname: 'n' }, { name: 'h', data: DATA }]]),
  viaNode('blockdev-lower-then-file', 'a block node in layer 1, a regular file of that name in layer 2', (n) => [[node('n', n)], [{ name: 'n', data: DATA }]]),
  viaNode('blockdev-lower-hardlink-then-file', 'a block node in layer 1; in layer 2 a hardlink to it, then a file of the hardlink name', (n) => [[node('n', n)], [{ name: 'h', type: '1', linkname: 'n' }, { name: 'h', data: DATA }]]),
  signed(
    'inode-exhaustion-with-state',
    '20,000 empty files (10 MiB of tar, within the signed unpackedBytes) into a slot whose file system, shared with the state dir, has 4,000 inodes',
    'NO_SPACE',
    () => ({ layers: [{ tar: tarArchive(manyFiles(20_000)) }] }),
    {
      async prepare({ jail }) {
        await fewInodes(jail, 4000);
      },
    },
  ),
  signed('duplicate-layer', 'the same layer blob listed twice in one manifest (one chunk index entry)', 'ok', () => {
    const tar = tarArchive([{ name: 'etc/', type: '5' }, { name: 'etc/hostname', data: 'k\n' }]);
    return { layers: [{ tar }, { tar }] };
  }),
  signed('layer-exact-chunk-multiple', 'a plain tar layer of exactly 2 chunks (8 MiB): no short last chunk', 'ok', () => {
    const tar = tarArchive([{ name: 'big', data: Buffer.alloc(8 * MiB - 512 - 1024) }]);
    expect(tar.length).toBe(8 * MiB);
    return { layers: [{ tar, compression: 'none' }] };
  }),
  {
    name: 'crl-repeated',
    attacker: 'no-key',
    tries: 'the legitimate CRL of a signed stick repeated 17 times in FERRY/trust/crl.pem (a CPU bomb at thousands)',
    expect: 'LIMIT_EXCEEDED',
    async stick({ base }) {
      const media = await base();
      const crl = path.join(media, 'FERRY', 'trust', 'crl.pem');
      await fsp.writeFile(crl, (await fsp.readFile(crl, 'utf8')).repeat(17));
      return media;
    },
  },
  {
    name: 'trust-roots-odd-names',
    attacker: 'no-key',
    tries: 'PEM files named with a space, an escape sequence and invalid UTF-8 in FERRY/trust/roots (ignored, the update installs)',
    expect: 'ok',
    async stick({ base }) {
      const media = await base();
      const roots = path.join(media, 'FERRY', 'trust', 'roots');
      await fsp.mkdir(roots, { recursive: true });
      for (const n of ['a b.pem', '\u001b[2Jx.pem']) await fsp.writeFile(path.join(roots, n), 'junk');
      await fsp.writeFile(Buffer.concat([Buffer.from(`${roots}/`), Buffer.from([0xff]), Buffer.from('.pem')]), 'junk');
      return media;
    },
  },
  signed('empty-tar-layer', 'a layer that is only the end-of-archive blocks', 'ok', () => ({ layers: [{ tar: Buffer.alloc(1024), compression: 'none' }, { tar: tarArchive([{ name: 'a', data: 'a' }]) }] })),
];

defineCorpus('red team: install-time special files, inode exhaustion, chunk-index edges', REDTEAM_CASES);
