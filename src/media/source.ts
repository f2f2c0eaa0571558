/**
 * Where the media's bytes come from: a folder holding FERRY/ (a mounted stick), or an
 * archive file written by `ferry archive`, read IN PLACE. The archive is indexed once by
 * its headers (oci/tar.ts) and every file is read as a byte range of the tar: nothing is
 * unpacked to temp space. Accepted archive forms (as `ferry unarchive`): the layout at the
 * tar root with `updates/` and `trust/` beside it, or the same under `oci/` or `FERRY/oci/`.
 *
 * Every consumer of `--media` (inspect, verify, the device pipeline, the TUI) reads through
 * this interface, so an archive and a folder give the same listing and the same bytes; every
 * read keeps its size cap. An archive is read-only: receipts wait in the device state.
 */
import { lstatSync, statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { directoryBackendSync, OciLayout } from '../oci/layout.js';
import { layoutPrefix, sideFoldersBase, tarBackend } from '../oci/oci-archive.js';
import { indexTar, normaliseTarName, type TarIndex } from '../oci/tar.js';
import { listMediaDir, readFileCapped, unsafeMedia } from '../util/fsx.js';
import { listMediaDirSync, readFileCappedSync } from '../util/fsx-sync.js';
import { isRegistryMedia } from './registry-media-name.js';

/** Read access to ferry media, whatever form it has. */
export interface MediaSource {
  readonly kind: 'folder' | 'archive' | 'registry';
  /** The path given: the media root folder, or the archive file. */
  readonly path: string;
  /** A short human description ("folder /media/stick", "archive stick.tar"). */
  describe(): string;
  /** The OCI layout (FERRY/oci, or the archive's layout); MEDIA_NOT_FOUND / INVALID_LAYOUT when absent. */
  openLayout(): Promise<OciLayout>;
  /**
   * A small file relative to FERRY/ (e.g. 'updates/kiosk-1.0.0.json'), refused over `cap`
   * bytes (FILE_TOO_LARGE); undefined when absent; UNSAFE_MEDIA when it (or a folder on the
   * way) is a link, FIFO, socket, device or folder.
   */
  readFile(rel: string, cap: number, what: string): Promise<Buffer | undefined>;
  /**
   * Names directly inside a folder relative to FERRY/ (e.g. 'updates'), sorted; [] when absent;
   * UNSAFE_MEDIA for a link or special file in it, LIMIT_EXCEEDED over MAX_LISTED names.
   */
  list(relDir: string): Promise<string[]>;
  /** A writable media root for receipts, or undefined (an archive): receipts then wait in the device state. */
  readonly receiptsRoot: string | undefined;
}

const SAFE_REL = /^[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;

/** Relative paths come from ferry's own code, but are still checked: no '..', no absolute paths. */
function checkRel(rel: string): string {
  if (!SAFE_REL.test(rel) || rel.split('/').some((s) => s === '.' || s === '..')) {
    throw new FerryError('UNSAFE_PATH', `"${rel}" is not a safe path inside FERRY/`);
  }
  return rel;
}

function notFound(p: string, why: string, cause?: unknown): FerryError {
  return new FerryError('MEDIA_NOT_FOUND', `${p} ${why}: pass a folder holding FERRY/ or an archive written by ferry archive (check the --media path)`, cause === undefined ? {} : { cause });
}

/** Most names ferry lists in one folder of FERRY/ (updates/, trust/roots/): more is LIMIT_EXCEEDED before anything is read. */
export const MAX_LISTED = 10_000;

/**
 * How a media source reads a folder: `sync` does its checks and small reads with synchronous
 * calls (util/fsx-sync.ts: the same checks, no thread-pool round trips), for `ferry verify`,
 * which has nothing to overlap with them; archives and the blob streams stay asynchronous.
 */
export interface MediaSourceOptions {
  sync?: boolean;
}

/** lstat for realFolder: undefined when absent. */
async function lstatOrNone(at: string, sync: boolean): Promise<import('node:fs').Stats | undefined> {
  try {
    return sync ? lstatSync(at) : await fsp.lstat(at);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw toFerryError(e, `cannot read ${at}`);
  }
}

/** FERRY/ and the folders ferry walks in it must be real folders: a link there is refused, never followed. */
async function realFolder(root: string, rel: string, sync = false): Promise<boolean> {
  let at = root;
  for (const part of rel.split('/')) {
    at = path.join(at, part);
    const st = await lstatOrNone(at, sync);
    if (!st) return false;
    if (!st.isDirectory()) throw unsafeMedia(at, st.isSymbolicLink() ? 'is a symbolic link' : 'is not a folder');
  }
  return true;
}

/** A mounted stick or folder: FERRY/ under `root`. Every read goes through fsx.openRegular below `root`. */
function folderSource(root: string, sync = false): MediaSource {
  const ferry = path.join(root, 'FERRY');
  return {
    kind: 'folder',
    path: root,
    receiptsRoot: root,
    describe: () => `folder ${root}`,
    async openLayout() {
      if (!(await realFolder(root, 'FERRY/oci', sync))) throw new FerryError('MEDIA_NOT_FOUND', `${root} holds no FERRY/oci: not ferry media (check the --media path)`);
      const oci = path.join(ferry, 'oci');
      return sync ? OciLayout.open(oci, directoryBackendSync(oci)) : OciLayout.open(oci);
    },
    async readFile(rel, cap, what) {
      const file = path.join(ferry, checkRel(rel));
      try {
        return sync ? readFileCappedSync(file, cap, what, { under: root }) : await readFileCapped(file, cap, what, { under: root });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw e instanceof FerryError ? e : toFerryError(e, `cannot read ${file}`);
      }
    },
    async list(relDir) {
      const dir = path.join(ferry, checkRel(relDir));
      let entries: import('node:fs').Dirent[] | undefined;
      try {
        entries = sync ? listMediaDirSync(root, dir, MAX_LISTED) : await listMediaDir(root, dir, MAX_LISTED);
      } catch (e) {
        throw e instanceof FerryError ? e : toFerryError(e, `cannot list ${dir}`);
      }
      for (const e of entries ?? []) {
        if (!e.isFile() && !e.isDirectory()) throw unsafeMedia(path.join(dir, e.name), 'is a link or special file, not a regular file');
      }
      return (entries ?? []).map((e) => e.name).sort();
    },
  };
}

/** An archive read in place; `base` is where FERRY/'s folders sit in it ("" or "FERRY/"). */
function archiveSource(file: string, index: TarIndex, prefix: string): MediaSource {
  const base = sideFoldersBase(prefix);
  const side = tarBackend(index, base);
  return {
    kind: 'archive',
    path: file,
    receiptsRoot: undefined,
    describe: () => `archive ${file}`,
    openLayout: () => OciLayout.open(`${file}${prefix ? `!${prefix}` : ''}`, tarBackend(index, prefix)),
    async readFile(rel, cap, what) {
      const e = index.entries.get(base + checkRel(rel));
      if (!e) return undefined;
      if (e.type !== 'file') throw unsafeMedia(`${file}!${base}${rel}`, `is a ${e.type} member, not a file`);
      return side.readCapped(rel, cap, what);
    },
    async list(relDir) {
      const dir = `${base}${normaliseTarName(checkRel(relDir))}/`;
      const names = new Set<string>();
      for (const [name, e] of index.entries) {
        if (!name.startsWith(dir) || name.length === dir.length) continue;
        const child = name.slice(dir.length).split('/')[0]!;
        if (child === name.slice(dir.length) && e.type !== 'file' && e.type !== 'directory') throw unsafeMedia(`${file}!${name}`, `is a ${e.type} member, not a file`);
        names.add(child);
        if (names.size > MAX_LISTED) throw new FerryError('LIMIT_EXCEEDED', `${file}!${dir} holds more than ${MAX_LISTED} entries: do not use this stick; report it to headquarters`, { details: { cap: MAX_LISTED } });
      }
      return [...names].sort();
    },
  };
}

/** The last archive indexed, reused while the file is unchanged (one index per command, not per step). */
let cached: { key: string; index: TarIndex } | undefined;

async function indexOnce(file: string, st: import('node:fs').BigIntStats): Promise<TarIndex> {
  const key = `${path.resolve(file)}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  if (cached?.key === key) return cached.index;
  const index = await indexTar(file);
  cached = { key, index };
  return index;
}

/**
 * Open the media at `pathOrFile`, decided by stat: a directory is a folder holding FERRY/;
 * a regular file is an archive written by `ferry archive`. MEDIA_NOT_FOUND when neither
 * exists; INVALID_LAYOUT when the file is a tar without an OCI layout; CORRUPT_ARCHIVE when
 * it is no tar at all.
 */
export async function openMediaSource(pathOrFile: string, opts: MediaSourceOptions = {}): Promise<MediaSource> {
  // the registry reader (HTTP client, node:tls) is loaded only for docker:// media
  if (isRegistryMedia(pathOrFile)) return (await import('./registry-media.js')).registryMediaSource(pathOrFile);
  const sync = opts.sync === true;
  let st: import('node:fs').BigIntStats;
  try {
    st = sync ? statSync(pathOrFile, { bigint: true }) : await fsp.stat(pathOrFile, { bigint: true });
  } catch (e) {
    throw notFound(pathOrFile, 'does not exist', e);
  }
  if (st.isDirectory()) {
    if (!(await realFolder(pathOrFile, 'FERRY', sync))) throw new FerryError('MEDIA_NOT_FOUND', `${pathOrFile} holds no FERRY folder: is this a ferry stick, and is it mounted? (or pass an archive written by ferry archive)`);
    return folderSource(pathOrFile, sync);
  }
  // a FIFO or device given as an archive would hang the first read
  if (!st.isFile()) throw unsafeMedia(pathOrFile, 'is neither a folder nor a regular file');
  const index = await indexOnce(pathOrFile, st);
  const prefix = layoutPrefix(index);
  if (prefix === undefined) {
    throw new FerryError('INVALID_LAYOUT', `${pathOrFile} is a tar but holds no OCI image layout (no oci-layout at its root, under oci/ or FERRY/oci/): not an archive written by ferry archive`);
  }
  return archiveSource(pathOrFile, index, prefix);
}

/** The OCI layout of the media at `pathOrFile` (folder or archive; an archive's index is reused while unchanged). */
export async function openMediaLayout(pathOrFile: string): Promise<OciLayout> {
  return (await openMediaSource(pathOrFile)).openLayout();
}

/** Where receipts for `mediaRoot` may be written: the folder itself, or undefined for an archive file (read-only). */
export async function receiptsRootFor(mediaRoot: string): Promise<string | undefined> {
  if (isRegistryMedia(mediaRoot)) return undefined;
  const st = await fsp.stat(mediaRoot).catch(() => undefined);
  return st?.isFile() ? undefined : mediaRoot;
}
