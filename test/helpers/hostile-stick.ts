/**
 * Sticks for the hostile-stick corpus (test/hostile/). One kit per test file: the
 * throwaway PKI and sample images of device-stick.ts, plus `publish`, which puts an
 * image on a stick (exported by ferry's own exportImage from a crafted layout, or a
 * raw layout whose descriptors lie) and signs an update for it exactly as HQ does,
 * but with every signed field under the test's control. `copy` clones a base stick
 * so a case can alter it (the "no key" attacker: blobs and files changed after signing).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { exportImage } from '../../src/media/export.js';
import { buildUpdateManifest } from '../../src/media/publish.js';
import type { Descriptor } from '../../src/oci/types.js';
import { createSignedData } from '../../src/trust/cms-build.js';
import { canonicalJson } from '../../src/trust/manifest.js';
import { loadFileSigner } from '../../src/trust/signer.js';
import type { Signer, UpdateManifest } from '../../src/trust/types.js';
import { makeStickKit, type StickKit } from './device-stick.js';
import { type TestLayer, writeTestLayout } from './layers.js';

/** DESIGN.md §6: the chunk index of a stick. */
export const CHUNK_MEDIA_TYPE = 'application/vnd.ferry.chunks.v1+json';
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** What to publish. Exactly one of `image` (an input name) or `layers` (crafted, exported by ferry) or `descriptor` (already in FERRY/oci). */
export interface PublishSpec {
  image?: string;
  layers?: TestLayer[];
  descriptor?: Descriptor;
  target?: string;
  version: string;
  counter: number;
  compatible?: string[];
  notes?: string;
  /** Signed unpackedBytes: export's value by default; null leaves it out. */
  unpackedBytes?: number | null;
  payloadBytes?: number;
  /** No chunk index at all (media made before verified streaming). */
  legacy?: boolean;
  /** Sign with this signer folder, or this Signer, instead of the kit's. */
  signerDir?: string;
  signer?: Signer;
  /** Last word on the manifest before it is signed. */
  edit?: (m: Record<string, unknown> & UpdateManifest) => void;
}

/** The kit a corpus file shares. */
export interface HostileKit {
  kit: StickKit;
  /** A fresh empty media root (a folder that will hold FERRY/). */
  newMedia(): Promise<string>;
  /** Put an image on `media` and sign an update for it; returns the signed manifest. */
  publish(media: string, spec: PublishSpec): Promise<UpdateManifest>;
  /** A copy of a stick (cp -a, reflinked where the file system can). */
  copy(media: string): Promise<string>;
  cleanup(): Promise<void>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** FERRY/oci/blobs/sha256/<hex> of `digest` on a stick. */
export function blobPath(media: string, digest: string): string {
  return path.join(media, 'FERRY', 'oci', 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

/** Store bytes as a blob of the stick's layout; returns its descriptor. */
export async function putRawBlob(media: string, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = `sha256:${sha256(bytes)}`;
  await fsp.mkdir(path.dirname(blobPath(media, digest)), { recursive: true });
  await fsp.writeFile(blobPath(media, digest), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** Chunk digests of a file, as DESIGN.md §6 specifies them. */
export async function chunkDigests(file: string, chunkSize = CHUNK_SIZE): Promise<string[]> {
  const out: string[] = [];
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(chunkSize);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
      if (bytesRead === 0) break;
      out.push(sha256(buf.subarray(0, bytesRead)));
      if (bytesRead < chunkSize) break;
    }
  } finally {
    await fh.close();
  }
  return out;
}

/** Write a chunk index for `layers` (blobs already on the stick) and return its descriptor. */
export async function writeChunkIndex(media: string, layers: Descriptor[], chunkSize = CHUNK_SIZE): Promise<Descriptor> {
  const blobs: Record<string, string[]> = {};
  for (const l of layers) blobs[l.digest] = await chunkDigests(blobPath(media, l.digest), chunkSize);
  return putRawBlob(media, Buffer.from(JSON.stringify({ schema: 'ferry.chunks/v1', chunkSize, blobs })), CHUNK_MEDIA_TYPE);
}

/** The image manifest (parsed) a descriptor on the stick points at. */
export async function readImageManifest(media: string, d: Descriptor): Promise<{ config: Descriptor; layers: Descriptor[] }> {
  return JSON.parse(await fsp.readFile(blobPath(media, d.digest), 'utf8'));
}

/** The signed update `id` as written on the stick. */
export async function readUpdate(media: string, id: string): Promise<UpdateManifest & { image: { chunkIndex?: Descriptor } }> {
  return JSON.parse(await fsp.readFile(path.join(media, 'FERRY', 'updates', `${id}.json`), 'utf8'));
}

/** Sign `manifest` with the signer in `signerDir` (or `signer`) and write `<id>.json.p7s`, then `<id>.json` (publish's order). */
export async function signManifest(media: string, manifest: UpdateManifest, signerDir: string, signer?: Signer): Promise<void> {
  const bytes = Buffer.from(canonicalJson(manifest));
  const sig = await createSignedData(bytes, [signer ?? (await loadFileSigner(signerDir))], new Date());
  const dir = path.join(media, 'FERRY', 'updates');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, `${manifest.id}.json.p7s`), sig);
  await fsp.writeFile(path.join(dir, `${manifest.id}.json`), bytes);
}

/** Build the kit (PKI and samples from device-stick.ts). */
export async function makeHostileKit(): Promise<HostileKit> {
  const kit = await makeStickKit();
  let n = 0;
  const scratch = path.join(kit.dir, 'hostile');
  await fsp.mkdir(scratch);
  const hk: HostileKit = {
    kit,
    async newMedia() {
      const m = path.join(scratch, `media-${++n}`);
      await fsp.mkdir(m);
      return m;
    },
    async copy(media) {
      const m = path.join(scratch, `copy-${++n}`);
      execFileSync('cp', ['-a', '--reflink=auto', media, m]);
      return m;
    },
    async publish(media, spec) {
      const target = spec.target ?? 'kiosk';
      let descriptor = spec.descriptor;
      let unpacked: number | undefined;
      let payload = spec.payloadBytes;
      let chunkIndex: Descriptor | undefined;
      if (!descriptor) {
        let image = spec.image;
        if (spec.layers) {
          const dir = path.join(scratch, `layout-${++n}`);
          await writeTestLayout(dir, spec.layers, 'img');
          image = `oci:${dir}:img`;
        }
        const ex = await exportImage({ image: image!, target, version: spec.version, mediaRoot: media });
        descriptor = ex.manifest;
        unpacked = ex.unpackedBytes;
        payload ??= ex.payloadBytes;
        chunkIndex = (ex as { chunkIndex?: Descriptor }).chunkIndex;
      }
      const man = await readImageManifest(media, descriptor);
      payload ??= man.config.size + man.layers.reduce((s, l) => s + l.size, 0);
      if (spec.legacy) chunkIndex = undefined; // media as an older ferry made them: nothing pinned
      else chunkIndex ??= await writeChunkIndex(media, man.layers);
      const m = buildUpdateManifest(
        {
          mediaRoot: media,
          target,
          version: spec.version,
          manifest: descriptor,
          platform: { os: 'linux', architecture: 'amd64' },
          payloadBytes: payload,
          signerDir: kit.signerDir,
          compatible: spec.compatible ?? ['acme,kiosk-v2'],
          counter: spec.counter,
          expires: '30',
          ...(spec.notes !== undefined ? { notes: spec.notes } : {}),
        },
        new Date(),
      ) as Record<string, unknown> & UpdateManifest;
      const up = spec.unpackedBytes === undefined ? unpacked : spec.unpackedBytes ?? undefined;
      if (up !== undefined) m.image.unpackedBytes = up;
      if (chunkIndex) (m.image as Record<string, unknown>).chunkIndex = { mediaType: chunkIndex.mediaType, digest: chunkIndex.digest, size: chunkIndex.size };
      spec.edit?.(m);
      await signManifest(media, m, spec.signerDir ?? kit.signerDir, spec.signer);
      return m;
    },
    async cleanup() {
      await kit.cleanup();
    },
  };
  return hk;
}
