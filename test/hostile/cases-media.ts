/**
 * Hostile-stick corpus, attacker (a): no key. A legitimately signed stick whose files
 * are altered afterwards: special files (FIFO, socket, device node, symlink) in every
 * place ferry reads, tampered chunks, a swapped chunk index, lying descriptors, caps
 * passed. Each stops with its typed error before any altered byte is parsed or
 * extracted (table: test/hostile/README.md).
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { expect } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import type { Compression } from '../../src/oci/types.js';
import { partPath, replaceWithSpecial, type Special, type StickPart, tamperChunk, treeContains, usedBytes, overwrite, onlyUpdateId } from '../helpers/hostile-mutate.js';
import { blobPath, chunkDigests, type HostileKit, readUpdate } from '../helpers/hostile-stick.js';
import { rawArchive, rawPaxEntry } from '../helpers/hostile-tar.js';
import { compress, type RawEntry, tarArchive } from '../helpers/layers.js';
import type { CaseCtx, HostileCase } from './harness.js';

/** The base stick (signed sample 1.0.0, with a CRL in FERRY/trust) with one part replaced. */
function special(part: StickPart, kind: Special): HostileCase {
  return {
    name: `${kind}-at-${part}`,
    attacker: 'no-key',
    tries: `a ${kind} in place of ${part}`,
    expect: 'UNSAFE_MEDIA',
    async stick({ base, jail }) {
      const media = await base();
      const p = await replaceWithSpecial(media, part, kind, jail.rootCanary);
      return { media, fifos: kind === 'fifo' ? [p] : [] };
    },
  };
}

function noKey(name: string, tries: string, expect: ErrorCode | 'ok', alter: (media: string, ctx: CaseCtx) => Promise<void>, check?: HostileCase['check']): HostileCase {
  return {
    name,
    attacker: 'no-key',
    tries,
    expect,
    async stick(ctx) {
      const media = await ctx.base();
      await alter(media, ctx);
      return media;
    },
    ...(check ? { check } : {}),
  };
}

/** Deterministic incompressible bytes (AES-CTR keystream). */
function noise(n: number, seed: number): Buffer {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16));
  return c.update(Buffer.alloc(n));
}

/** A signed stick whose one layer is ~10 MiB: three chunks of 4 MiB (the last short). Built once per compression, copied per case. */
const chunky = new Map<Compression, Promise<string>>();
function chunkyStick(hk: HostileKit, c: Compression): Promise<string> {
  let p = chunky.get(c);
  if (!p) {
    p = (async () => {
      const entries: RawEntry[] = [];
      for (let i = 0; i < 10; i++) entries.push({ name: `data/f${i}`, data: c === 'none' ? Buffer.alloc(1 << 20, 97 + i) : noise(1 << 20, i) });
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [{ tar: tarArchive([{ name: 'data/', type: '5' }, ...entries]), compression: c }], version: '7.0.0', counter: 700 });
      return media;
    })();
    chunky.set(c, p);
  }
  return p;
}

/**
 * A legitimately signed two-layer image (built once): layer 1 holds a relative symlink
 * lnk -> ../canary (from the slot root it reaches the canary beside the slots), layer 2
 * some data. The "no key" attacker replaces layer 2 only.
 */
let twoLayer: Promise<string> | undefined;
function twoLayerStick(hk: HostileKit): Promise<string> {
  twoLayer ??= (async () => {
    const media = await hk.newMedia();
    const l1 = tarArchive([{ name: 'etc/', type: '5' }, { name: 'lnk', type: '2', linkname: '../canary' }]);
    const l2 = tarArchive([{ name: 'etc/', type: '5' }, { name: 'etc/blob', data: noise(16 * 1024, 7) }]);
    await hk.publish(media, { layers: [{ tar: l1 }, { tar: l2 }], version: '7.1.0', counter: 710 });
    return media;
  })();
  return twoLayer;
}

function chunkTamper(name: string, c: Compression, chunk: number | 'last'): HostileCase {
  const marker = `HOSTILE-TAMPER-${name}`;
  return {
    name,
    attacker: 'no-key',
    tries: `bytes changed inside chunk ${chunk} of a ${c === 'none' ? 'plain tar' : c} layer`,
    expect: 'DIGEST_MISMATCH',
    async stick({ hk }) {
      const media = await hk.copy(await chunkyStick(hk, c));
      await tamperChunk(media, chunk, Buffer.from(marker));
      return media;
    },
    async check({ jail }) {
      expect(treeContains(jail.slotDir(jail.target), marker), 'bytes of the tampered chunk reached the slot').toBe(false);
    },
  };
}

/**
 * Replace the stick's last layer blob (same name, same media type, same size: zero
 * padding after the gzip member) with `tar`, so only its digest and chunks can tell.
 */
async function replaceLayer(media: string, tar: Buffer): Promise<void> {
  const p = await partPath(media, 'layer');
  const size = (await fsp.stat(p)).size;
  const gz = compress(tar, 'gzip');
  if (gz.length > size) throw new Error(`replacement layer of ${gz.length} bytes is larger than the original ${size}`);
  await fsp.writeFile(p, Buffer.concat([gz, Buffer.alloc(size - gz.length)]));
}

const PLACES: StickPart[] = ['FERRY', 'oci', 'blobs', 'oci-layout', 'index.json', 'manifest', 'config', 'layer', 'update', 'signature', 'crl'];

/** Every case of this group (the test files pick them by name). */
export const MEDIA_CASES: HostileCase[] = [
  ...PLACES.map((p) => special(p, 'fifo')),
  ...(['FERRY', 'oci', 'blobs', 'oci-layout', 'index.json', 'layer', 'update', 'signature', 'crl'] as StickPart[]).map((p) => special(p, 'symlink')),
  special('index.json', 'socket'),
  special('update', 'socket'),
  special('layer', 'char'),
  special('oci-layout', 'char'),
  noKey('receipts-symlink', 'FERRY/receipts is a symlink to a canary folder (the device writes receipts there)', 'ok', async (m, { jail }) => {
    await fsp.rm(path.join(m, 'FERRY', 'receipts'), { recursive: true, force: true });
    await fsp.symlink(jail.rootCanary, path.join(m, 'FERRY', 'receipts'));
  }),
  chunkTamper('chunk-first', 'none', 0),
  chunkTamper('chunk-middle', 'none', 1),
  chunkTamper('chunk-last', 'none', 'last'),
  chunkTamper('chunk-middle-gzip', 'gzip', 1),
  chunkTamper('chunk-last-zstd', 'zstd', 'last'),
  noKey('chunk-index-swapped', 'the chunk index blob replaced by another valid chunk index', 'DIGEST_MISMATCH', async (m) => {
    const ci = (await readUpdate(m, await onlyUpdateId(m))).image.chunkIndex;
    if (!ci) throw new Error('the stick has no chunk index');
    const other = JSON.parse(await fsp.readFile(blobPath(m, ci.digest), 'utf8')) as { blobs: Record<string, string[]> };
    for (const k of Object.keys(other.blobs)) other.blobs[k] = other.blobs[k]!.map(() => '0'.repeat(64));
    await fsp.writeFile(blobPath(m, ci.digest), JSON.stringify(other));
  }),
  noKey('layer-and-chunk-index-replaced', 'a crafted layer and a chunk index that matches it, under the signed names', 'DIGEST_MISMATCH', async (m) => {
    const ci = (await readUpdate(m, await onlyUpdateId(m))).image.chunkIndex;
    if (!ci) throw new Error('the stick has no chunk index');
    const layer = await partPath(m, 'layer');
    await replaceLayer(m, tarArchive([{ name: 'etc/', type: '5' }, { name: 'etc/evil', data: 'pwned' }]));
    const idx = JSON.parse(await fsp.readFile(blobPath(m, ci.digest), 'utf8')) as { blobs: Record<string, string[]> };
    idx.blobs[`sha256:${path.basename(layer)}`] = await chunkDigests(layer);
    await fsp.writeFile(blobPath(m, ci.digest), JSON.stringify(idx));
  }),
  {
    name: 'no-chunk-index',
    attacker: 'no-key',
    tries: 'media signed without a chunk index (made before verified streaming), default policy',
    expect: 'CHUNK_INDEX_MISSING',
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { image: hk.kit.samples.v1, version: '1.0.0', counter: 100, legacy: true });
      return media;
    },
  },
  {
    name: 'tampered-pax-exploit',
    attacker: 'no-key',
    tries: 'finding 1 from a tampered stick: a legit image with a symlink in layer 1; layer 2 replaced by a "NN  path=" write through it',
    expect: 'DIGEST_MISMATCH',
    async stick({ hk }) {
      const media = await hk.copy(await twoLayerStick(hk));
      await replaceLayer(media, rawArchive([rawPaxEntry(['  path=lnk/canary'], { name: 'innocent', data: 'pwned by a tampered stick\n' })]));
      return media;
    },
  },
  noKey(
    'tampered-gzip-bomb',
    'finding 3: the layer replaced by a 64 MiB-of-zeros gzip bomb',
    'DIGEST_MISMATCH',
    async (m) => replaceLayer(m, tarArchive([{ name: 'big', data: Buffer.alloc(64 << 20) }])),
    async ({ jail }) => {
      expect(usedBytes(jail.slotDir(jail.target)), 'the bomb left data in the slot').toBeLessThan(8 << 20);
    },
  ),
  noKey('index-other-manifest', 'index.json names another blob for the signed ref', 'DIGEST_MISMATCH', async (m) => {
    const file = await partPath(m, 'index.json');
    const idx = JSON.parse(await fsp.readFile(file, 'utf8')) as { manifests: Array<{ digest: string }> };
    const cfg = path.basename(await partPath(m, 'config'));
    idx.manifests[0]!.digest = `sha256:${cfg}`;
    await fsp.writeFile(file, JSON.stringify(idx));
  }),
  noKey('manifest-blob-tampered', 'one byte of the image manifest blob changed', 'DIGEST_MISMATCH', async (m) => overwrite(await partPath(m, 'manifest'), 0, Buffer.from(' '))),
  noKey('config-blob-tampered', 'one byte of the config blob changed', 'DIGEST_MISMATCH', async (m) => overwrite(await partPath(m, 'config'), 0, Buffer.from(' '))),
  noKey('layer-truncated', 'the layer blob cut in half', 'SIZE_MISMATCH', async (m) => {
    const p = await partPath(m, 'layer');
    await fsp.truncate(p, Math.floor((await fsp.stat(p)).size / 2));
  }),
  noKey('layer-extended', '1 MiB appended to the layer blob', 'SIZE_MISMATCH', async (m) => fsp.appendFile(await partPath(m, 'layer'), Buffer.alloc(1 << 20))),
  noKey('update-json-edited', 'the signed update manifest edited (counter raised)', 'SIGNATURE_INVALID', async (m) => {
    const p = await partPath(m, 'update');
    await fsp.writeFile(p, (await fsp.readFile(p, 'utf8')).replace(/"counter": ?100/, '"counter": 999'));
  }),
  noKey('update-json-over-cap', 'a 2 MiB update manifest (cap 1 MiB)', 'FILE_TOO_LARGE', async (m) => fsp.appendFile(await partPath(m, 'update'), Buffer.alloc(2 << 20, 0x20))),
  noKey('index-json-over-cap', 'a 5 MiB index.json (cap 4 MiB)', 'FILE_TOO_LARGE', async (m) => fsp.appendFile(await partPath(m, 'index.json'), Buffer.alloc(5 << 20, 0x20))),
  noKey('many-updates', '1,001 update manifests in FERRY/updates (cap 1,000)', 'LIMIT_EXCEEDED', async (m) => {
    const dir = path.join(m, 'FERRY', 'updates');
    for (let i = 0; i < 1001; i++) await fsp.writeFile(path.join(dir, `junk-${i}.json`), '{}');
  }),
  {
    name: 'archive-fifo',
    attacker: 'no-key',
    tries: '--media names a FIFO where an archive file is expected',
    expect: 'UNSAFE_MEDIA',
    async stick({ hk }) {
      const fifo = path.join(await hk.newMedia(), 'stick.tar');
      execFileSync('mkfifo', [fifo]);
      return { media: fifo, fifos: [fifo] };
    },
  },
  {
    name: 'archive-symlink-member',
    attacker: 'no-key',
    tries: 'an archive (read in place) whose FERRY/oci/index.json member is a symlink',
    expect: 'UNSAFE_MEDIA',
    async stick({ base, jail }) {
      const media = await base();
      await replaceWithSpecial(media, 'index.json', 'symlink', jail.rootCanary);
      const file = `${media}.tar`;
      execFileSync('tar', ['-C', media, '-cf', file, 'FERRY']);
      return file;
    },
  },
  noKey('many-index-entries', '14,000 entries in index.json (under its 4 MiB byte cap)', 'LIMIT_EXCEEDED', async (m) => {
    const file = await partPath(m, 'index.json');
    const idx = JSON.parse(await fsp.readFile(file, 'utf8')) as { manifests: Array<Record<string, unknown>> };
    const { mediaType, digest, size } = idx.manifests[0]!;
    for (let i = 0; i < 14_000; i++) idx.manifests.push({ mediaType, digest, size, annotations: { 'org.opencontainers.image.ref.name': `junk-${i}` } });
    await fsp.writeFile(file, JSON.stringify(idx));
  }),
];

