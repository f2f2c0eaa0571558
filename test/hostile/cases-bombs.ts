/**
 * Hostile-stick corpus: bounded work. Decompression bombs from a legitimate signer
 * (past the signed unpackedBytes -> LIMIT_EXCEEDED; without unpackedBytes, filling the
 * slot -> NO_SPACE with the space given back, also when the state directory shares that
 * file system), the deep-whiteout memory bomb (run through the CLI with a bounded heap:
 * a typed error or success, never an out-of-memory crash), and signed descriptors and
 * sizes that lie or pass the caps (table: test/hostile/README.md).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { expect } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import type { Jail } from '../helpers/hostile-device.js';
import { usedBytes } from '../helpers/hostile-mutate.js';
import { blobPath, putRawBlob, type PublishSpec } from '../helpers/hostile-stick.js';
import { type RawEntry, tarArchive, type TestLayer } from '../helpers/layers.js';
import { putIndex, sha } from '../media/fixtures.js';
import type { CaseCtx, HostileCase } from './harness.js';

const MiB = 1 << 20;
/** A tar holding one file of `mib` MiB of zeros: compresses about 1000:1. */
const zeros = (mib: number): Buffer => tarArchive([{ name: 'big', data: Buffer.alloc(mib * MiB) }]);

function signed(name: string, tries: string, expect: ErrorCode | 'ok' | Array<ErrorCode | 'ok'>, spec: (ctx: CaseCtx) => Omit<PublishSpec, 'version' | 'counter'>, extra: Partial<HostileCase> = {}): HostileCase {
  return {
    name,
    attacker: 'signer',
    tries,
    expect,
    async stick(ctx) {
      const media = await ctx.hk.newMedia();
      await ctx.hk.publish(media, { version: '6.6.6', counter: 666, ...spec(ctx) });
      return media;
    },
    ...extra,
  };
}

/** After a bomb the slot holds at most what was allowed (plus one chunk): the space is given back. */
async function slotSmall({ jail }: CaseCtx): Promise<void> {
  expect(usedBytes(jail.slotDir(jail.target)), 'the bomb left its bytes in the slot').toBeLessThan(8 * MiB);
}

/** Move slot B (and optionally the state dir) onto a tmpfs of `mib` MiB; unmounted at cleanup. */
async function smallFs(j: Jail, mib: number, withState: boolean): Promise<string> {
  const mnt = path.join(j.dev.root, 'small');
  await fsp.mkdir(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'ferry-corpus', mnt]);
  j.onCleanup.push(async () => void execFileSync('umount', [mnt]));
  const cfg = JSON.parse(await fsp.readFile(j.dev.configFile, 'utf8'));
  j.slotDirs.B = cfg.slots.B.path = path.join(mnt, 'slot');
  await fsp.mkdir(j.slotDirs.B);
  if (withState) {
    j.dev.stateDir = cfg.stateDir = path.join(mnt, 'state');
    await fsp.mkdir(j.dev.stateDir, { mode: 0o700 });
  }
  await fsp.writeFile(j.dev.configFile, JSON.stringify(cfg, null, 2));
  return mnt;
}

function fillsSlot(name: string, withState: boolean): HostileCase {
  let freeBefore = 0;
  const mnt = (j: Jail) => path.join(j.dev.root, 'small');
  const free = (j: Jail) => fs.statfsSync(mnt(j)).bavail * fs.statfsSync(mnt(j)).bsize;
  return signed(name, `no unpackedBytes; a 64 MiB layer into a 24 MiB slot${withState ? ' that also holds the state dir' : ''}`, 'NO_SPACE', () => ({ layers: [{ tar: zeros(64) }], unpackedBytes: null }), {
    async prepare({ jail }) {
      await smallFs(jail, 24, withState);
      freeBefore = free(jail);
    },
    async check({ jail }) {
      expect(free(jail), 'the slot file system did not get its space back').toBeGreaterThan(freeBefore - 2 * MiB);
    },
  });
}

/** 3,000 whiteouts each ~1,500 directories deep (the 62 KB heap killer), below a small first layer. */
function deepWhiteouts(): TestLayer[] {
  const entries: RawEntry[] = [];
  const deep = 'x/'.repeat(1500);
  for (let i = 0; i < 3000; i++) entries.push({ name: `w${i}`, pax: { path: `d${i}/${deep}.wh.f` } });
  return [{ tar: tarArchive([{ name: 'etc/', type: '5' }]) }, { tar: tarArchive(entries) }];
}

type RawManifest = { config: Record<string, unknown>; layers: Array<Record<string, unknown>>; annotations?: Record<string, string> };
type RawConfig = { rootfs: { diff_ids: string[] } };

/** An image written by hand into FERRY/oci (descriptors export would never write): `edit` may change the manifest and the config before they are stored. */
async function rawImage(media: string, edit: (m: RawManifest, cfg: RawConfig) => void) {
  const oci = path.join(media, 'FERRY', 'oci');
  const tar = tarArchive([{ name: 'etc/', type: '5' }, { name: 'etc/hostname', data: 'kiosk\n' }]);
  const layer = await putRawBlob(media, zlib.gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(tar)] } };
  const m = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {} as Record<string, unknown>, layers: [{ ...layer } as Record<string, unknown>] };
  edit(m, cfg);
  const config = await putRawBlob(media, Buffer.from(JSON.stringify(cfg)), 'application/vnd.oci.image.config.v1+json');
  m.config = { ...config, ...m.config }; // a size lie set by `edit` wins
  const desc = await putRawBlob(media, Buffer.from(JSON.stringify(m)), 'application/vnd.oci.image.manifest.v1+json');
  await putIndex(oci, [{ ...desc, annotations: { 'org.opencontainers.image.ref.name': 'kiosk-6.6.6' } }]);
  return desc;
}

function rawSigned(name: string, tries: string, expect: ErrorCode, edit: Parameters<typeof rawImage>[1], payloadBytes = 4096): HostileCase {
  return {
    name,
    attacker: 'signer',
    tries,
    expect,
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { descriptor: await rawImage(media, edit), version: '6.6.6', counter: 666, payloadBytes, unpackedBytes: null });
      return media;
    },
  };
}

/** Every case of this group (the test files pick them by name). */
export const BOMB_CASES: HostileCase[] = [
  signed('gzip-bomb', '64 MiB of zeros in a gzip layer signed with unpackedBytes 1 MiB', 'LIMIT_EXCEEDED', () => ({ layers: [{ tar: zeros(64) }], unpackedBytes: MiB }), { check: slotSmall }),
  signed('zstd-bomb', '64 MiB of zeros in a zstd layer signed with unpackedBytes 1 MiB', 'LIMIT_EXCEEDED', () => ({ layers: [{ tar: zeros(64), compression: 'zstd' }], unpackedBytes: MiB }), { check: slotSmall }),
  signed(
    'gzip-multimember-bomb',
    '64 MiB split over 8 concatenated gzip members, signed unpackedBytes 1 MiB',
    'LIMIT_EXCEEDED',
    () => {
      const tar = zeros(64);
      const parts = Array.from({ length: 8 }, (_, i) => zlib.gzipSync(tar.subarray((i * tar.length) / 8, ((i + 1) * tar.length) / 8)));
      return { layers: [{ tar, blob: Buffer.concat(parts) }], unpackedBytes: MiB };
    },
    { check: slotSmall },
  ),
  signed('bomb-across-layers', 'two layers of 8 MiB each, signed unpackedBytes 12 MiB in total', 'LIMIT_EXCEEDED', () => ({ layers: [{ tar: zeros(8) }, { tar: tarArchive([{ name: 'big2', data: Buffer.alloc(8 * MiB) }]) }], unpackedBytes: 12 * MiB }), { check: slotSmall }),
  signed('zip-as-gzip-layer', 'a zip archive where a gzip layer is declared', 'CORRUPT_COMPRESSION', () => {
    const zip = execFileSync('python3', ['-c', 'import io,sys,zipfile\nb=io.BytesIO()\nz=zipfile.ZipFile(b,"w",zipfile.ZIP_DEFLATED)\nz.writestr("big",b"\\0"*(8<<20))\nz.close()\nsys.stdout.buffer.write(b.getvalue())']);
    return { layers: [{ tar: zeros(1), blob: zip }], unpackedBytes: null };
  }),
  fillsSlot('fills-slot', false),
  fillsSlot('fills-slot-and-state', true),
  signed('deep-whiteout-bomb', '3,000 whiteouts 1,500 directories deep (finding 4), CLI with a 512 MiB heap', ['ok', 'LIMIT_EXCEEDED'], () => ({ layers: deepWhiteouts() }), {
    cli: { env: { NODE_OPTIONS: '--max-old-space-size=512' }, timeoutMs: 60_000 },
  }),
  signed('unpacked-bytes-negative', 'signed unpackedBytes of -1', 'MANIFEST_INVALID', () => ({ layers: [{ tar: zeros(1) }], unpackedBytes: -1 })),
  signed('payload-bytes-huge', 'signed payloadBytes of 2^53-1 (more than any slot)', 'NO_SPACE', () => ({ layers: [{ tar: zeros(1) }], payloadBytes: Number.MAX_SAFE_INTEGER, unpackedBytes: null })),
  {
    name: 'chunk-index-not-the-blob',
    attacker: 'signer',
    tries: 'a signed chunk index that matches the bytes stored under a layer digest those bytes do not have',
    expect: 'DIGEST_MISMATCH',
    async stick({ hk }) {
      const media = await hk.newMedia();
      const fake = sha(Buffer.from('some other layer'));
      let real = '';
      const desc = await rawImage(media, (m) => {
        real = m.layers[0]!.digest as string;
        m.layers[0]!.digest = fake;
      });
      await fsp.rename(blobPath(media, real), blobPath(media, fake));
      await hk.publish(media, { descriptor: desc, version: '6.6.6', counter: 666, payloadBytes: 4096, unpackedBytes: null });
      return media;
    },
  },
  rawSigned('layer-size-negative', 'a signed image whose layer descriptor says size -1', 'INVALID_MANIFEST', (m) => void (m.layers[0]!.size = -1)),
  rawSigned('layer-size-huge', 'a signed image whose layer descriptor says 2^52 bytes (its signed chunk index lists 1 chunk)', 'MANIFEST_INVALID', (m) => void (m.layers[0]!.size = 2 ** 52)),
  rawSigned('manifest-over-cap', 'a signed 5 MiB image manifest (cap 4 MiB)', 'FILE_TOO_LARGE', (m) => void (m.annotations = { pad: 'p'.repeat(5 * MiB) })),
  rawSigned('config-size-over-cap', 'a signed config descriptor of 9 MiB (cap 8 MiB)', 'FILE_TOO_LARGE', (m) => void (m.config.size = 9 * MiB)),
];

