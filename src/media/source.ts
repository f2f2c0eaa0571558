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
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { OciLayout } from '../oci/layout.js';
import { layoutPrefix, sideFoldersBase, tarBackend } from '../oci/oci-archive.js';
import { indexTar, normaliseTarName, type TarIndex } from '../oci/tar.js';
import { readFileCapped } from '../util/fsx.js';

/** Read access to ferry media, whatever form it has. */
export interface MediaSource {
  readonly kind: 'folder' | 'archive';
  /** The path given: the media root folder, or the archive file. */
  readonly path: string;
  /** A short human description ("folder /media/stick", "archive stick.tar"). */
  describe(): string;
  /** The OCI layout (FERRY/oci, or the archive's layout); MEDIA_NOT_FOUND / INVALID_LAYOUT when absent. */
  openLayout(): Promise<OciLayout>;
  /**
   * A small file relative to FERRY/ (e.g. 'updates/kiosk-1.0.0.json'), refused over `cap`
   * bytes (FILE_TOO_LARGE); undefined when absent; UNSAFE_PATH when it is not a regular file.
   */
  readFile(rel: string, cap: number, what: string): Promise<Buffer | undefined>;
  /** Names directly inside a folder relative to FERRY/ (e.g. 'updates'), sorted; [] when absent. */
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

/** A mounted stick or folder: FERRY/ under `root`. */
function folderSource(root: string): MediaSource {
  const ferry = path.join(root, 'FERRY');
  return {
    kind: 'folder',
    path: root,
    receiptsRoot: root,
    describe: () => `folder ${root}`,
    async openLayout() {
      const oci = path.join(ferry, 'oci');
      const st = await fsp.stat(oci).catch(() => undefined);
      if (!st?.isDirectory()) throw new FerryError('MEDIA_NOT_FOUND', `${root} holds no FERRY/oci: not ferry media (check the --media path)`);
      return OciLayout.open(oci);
    },
    async readFile(rel, cap, what) {
      const file = path.join(ferry, checkRel(rel));
      const st = await fsp.lstat(file).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
        throw toFerryError(e, `cannot read ${file}`);
      });
      if (!st) return undefined;
      if (!st.isFile()) throw new FerryError('UNSAFE_PATH', `${file} is not a regular file (a link or folder): refusing it`);
      return readFileCapped(file, cap, what);
    },
    async list(relDir) {
      const dir = path.join(ferry, checkRel(relDir));
      const names = await fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [] as string[];
        throw toFerryError(e, `cannot list ${dir}`);
      });
      return names.sort();
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
      if (e.type !== 'file') throw new FerryError('UNSAFE_PATH', `${rel} in ${file} is not a regular file (a link or folder): refusing it`);
      return side.readCapped(rel, cap, what);
    },
    async list(relDir) {
      const dir = `${base}${normaliseTarName(checkRel(relDir))}/`;
      const names = new Set<string>();
      for (const name of index.entries.keys()) {
        if (name.startsWith(dir) && name.length > dir.length) names.add(name.slice(dir.length).split('/')[0]!);
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
export async function openMediaSource(pathOrFile: string): Promise<MediaSource> {
  let st: import('node:fs').BigIntStats;
  try {
    st = await fsp.stat(pathOrFile, { bigint: true });
  } catch (e) {
    throw notFound(pathOrFile, 'does not exist', e);
  }
  if (st.isDirectory()) {
    const ferry = await fsp.stat(path.join(pathOrFile, 'FERRY')).catch(() => undefined);
    if (!ferry?.isDirectory()) throw new FerryError('MEDIA_NOT_FOUND', `${pathOrFile} holds no FERRY folder: is this a ferry stick, and is it mounted? (or pass an archive written by ferry archive)`);
    return folderSource(pathOrFile);
  }
  if (!st.isFile()) throw notFound(pathOrFile, 'is neither a folder nor a regular file');
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
  const st = await fsp.stat(mediaRoot).catch(() => undefined);
  return st?.isFile() ? undefined : mediaRoot;
}
