/**
 * docker-archive input (`docker save`, `podman save`, `skopeo copy … docker-archive:`),
 * read in place like an oci-archive. Its manifest.json lists, per image, a config file
 * and the layer tars (legacy `<id>/layer.tar`, skopeo's `<hex>.tar`, or Docker 25's
 * `blobs/sha256/<hex>`). The config bytes are kept unchanged (so diff_ids stay right)
 * and described with the OCI config media type; layers get OCI layer media types.
 */
import * as path from 'node:path/posix';
import { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { detectCompression } from './compress.js';
import { parseStrictJson } from '../util/json.js';
import { sha256Digest } from './digest.js';
import { openMember, readMemberCapped } from './oci-archive.js';
import type { SourceImage, SourceLayer, SourceOptions } from './source.js';
import { checkPlatform } from './source.js';
import { indexTar, normaliseTarName, type TarEntry, type TarIndex } from './tar.js';
import { Caps, configPlatform, type Descriptor, MediaType, parseImageConfig } from './types.js';

/** One entry of a docker-archive manifest.json. */
export interface DockerArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** Validate manifest.json (pure). */
export function parseDockerManifest(v: unknown, file: string): DockerArchiveEntry[] {
  const bad = (why: string) => new FerryError('INVALID_MANIFEST', `${file}: manifest.json ${why}: not a docker-archive`);
  if (!Array.isArray(v) || v.length === 0) throw bad('is not a non-empty list');
  return v.map((e: unknown, i) => {
    const o = e as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw bad(`entry ${i} is not an object`);
    if (typeof o.Config !== 'string') throw bad(`entry ${i} has no Config`);
    if (!Array.isArray(o.Layers) || !o.Layers.every((l) => typeof l === 'string')) throw bad(`entry ${i} has no Layers list`);
    const tags = Array.isArray(o.RepoTags) ? o.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: o.Config, RepoTags: tags, Layers: o.Layers as string[] };
  });
}

function normaliseTag(t: string): string {
  const noHost = t.replace(/^(docker\.io\/library\/|docker\.io\/|localhost\/)/, '');
  return /:[^/]+$/.test(noHost) ? noHost : `${noHost}:latest`;
}

/** Pick the image named by `ref` (a tag or @N), or the only one (pure). */
export function pickDockerImage(entries: DockerArchiveEntry[], ref: string | undefined, file: string): DockerArchiveEntry {
  if (ref === undefined) {
    if (entries.length === 1) return entries[0]!;
    throw new FerryError('AMBIGUOUS_IMAGE', `${file} holds ${entries.length} images; name one of: ${entries.flatMap((e) => e.RepoTags).join(', ')} (or @0…@${entries.length - 1})`);
  }
  if (ref.startsWith('@')) {
    const e = entries[Number(ref.slice(1))];
    if (!e) throw new FerryError('IMAGE_NOT_FOUND', `${file} has no image ${ref} (it holds ${entries.length})`);
    return e;
  }
  const want = normaliseTag(ref);
  const e = entries.find((x) => x.RepoTags.some((t) => normaliseTag(t) === want));
  if (!e) throw new FerryError('IMAGE_NOT_FOUND', `no image tagged "${ref}" in ${file} (it has: ${entries.flatMap((x) => x.RepoTags).join(', ') || 'none'})`);
  return e;
}

/** Find a regular-file member, following symlinks/hardlinks inside the archive (legacy saves link duplicate layers). */
export function resolveMember(index: TarIndex, name: string): TarEntry {
  let cur = normaliseTarName(name);
  for (let hops = 0; hops < 8; hops++) {
    const e = index.entries.get(cur);
    if (!e) break;
    if (e.type === 'file') return e;
    if (e.type === 'symlink') cur = normaliseTarName(path.normalize(path.join(path.dirname(cur), e.linkname)));
    else if (e.type === 'hardlink') cur = normaliseTarName(e.linkname);
    else break;
    if (cur.startsWith('..')) break;
  }
  throw new FerryError('BLOB_MISSING', `${index.file}: member "${name}" is missing or not a file: the archive is incomplete`, { details: { member: name } });
}

/** Open a docker-archive and resolve the chosen image. */
export async function openDockerArchive(file: string, ref: string | undefined, opts: SourceOptions, describe: string): Promise<SourceImage> {
  let index: TarIndex;
  try {
    index = await indexTar(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FerryError('IMAGE_NOT_FOUND', `${describe}: ${file} does not exist`, { cause: e });
    throw e;
  }
  const mf = index.entries.get('manifest.json');
  if (!mf || mf.type !== 'file') throw new FerryError('INVALID_LAYOUT', `${file} has no manifest.json: not a docker-archive`);
  const entries = parseDockerManifest(parseStrictJson(await readMemberCapped(index, mf, Caps.manifestJson, 'manifest.json'), Caps.manifestJson, 'manifest.json'), file);
  const chosen = pickDockerImage(entries, ref, file);
  const cfgBytes = await readMemberCapped(index, resolveMember(index, chosen.Config), Caps.configJson, 'image config');
  const config = parseImageConfig(parseStrictJson(cfgBytes, Caps.configJson, 'image config'));
  if (config.rootfs.diff_ids.length !== chosen.Layers.length) {
    throw new FerryError('INVALID_MANIFEST', `${describe}: config lists ${config.rootfs.diff_ids.length} diff_ids but manifest.json has ${chosen.Layers.length} layers`);
  }
  const platform = configPlatform(config);
  checkPlatform(platform, opts.platform, describe);
  const layers: SourceLayer[] = [];
  for (const [i, name] of chosen.Layers.entries()) {
    const e = resolveMember(index, name);
    const head = await readMemberCapped(index, { ...e, size: Math.min(4, e.size) }, 4, 'layer');
    const compression = detectCompression(head);
    const diffId = config.rootfs.diff_ids[i]!;
    const layer: SourceLayer = { compression, diffId, sizeHint: e.size, open: () => openMember(file, e), range: async () => ({ file, start: e.offset, size: e.size }), what: `layer ${i + 1} (${name})` };
    // An uncompressed layer's digest is its diff_id: the copy is checked against it as it streams.
    if (compression === 'none') layer.descriptor = { mediaType: MediaType.layerTar, digest: diffId, size: e.size };
    layers.push(layer);
  }
  const cfgDesc: Descriptor = { mediaType: MediaType.imageConfig, digest: sha256Digest(cfgBytes), size: cfgBytes.length };
  return { describe, platform, layers, config: { kind: 'blob', descriptor: cfgDesc, open: () => Readable.from([cfgBytes]) } };
}
