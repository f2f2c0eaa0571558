/**
 * Reading the signed updates on a stick (I/O shell): `FERRY/updates/<id>.json` and
 * `<id>.json.p7s`, plus the stick's trust material (`FERRY/trust/crl.pem`,
 * `FERRY/trust/roots/*.pem` cross-certificates). Every read is capped; hidden and
 * AppleDouble `._*` files, temp files and unrelated names are ignored. Nothing read
 * here is trusted: verify-updates.ts hands the bytes to the pure verifier.
 *
 * A manifest without its signature is listed as SIGNATURE_MISSING ("unsigned or
 * incomplete"), never as an update: publish writes the signature first and the
 * manifest last, so an interrupted copy leaves at worst an orphan `.p7s`, which is
 * ignored; a `.json` alone means the copy or the signing did not finish.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { Caps } from '../oci/types.js';
import { pemFiles, readPemBlocks } from '../trust/load.js';
import { readFileCapped } from '../util/fsx.js';

const MAX_UPDATES = 1000;
const CRL_CAP = 8 * 1024 * 1024;
/** Update ids are file names: the same characters as target names and versions. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/** One update file pair as found on the stick: bytes, or why they could not be read. */
export interface MediaUpdateFiles {
  id: string;
  manifestFile: string;
  signatureFile: string;
  manifestBytes?: Buffer;
  signatureBytes?: Buffer;
  /** Set when the pair could not be read (missing signature, over a cap, not a file). */
  problem?: FerryError;
}

/** Everything under FERRY/updates and FERRY/trust, unverified. */
export interface MediaUpdates {
  updates: MediaUpdateFiles[];
  /** CRLs found in FERRY/trust/crl.pem (DER), candidates for the verifier. */
  crlCandidates: Buffer[];
  /** Cross-certificates from FERRY/trust/roots/*.pem (DER). */
  crossCerts: Buffer[];
}

/** The FERRY folder of a media root, or MEDIA_NOT_FOUND. */
export async function ferryDir(mediaRoot: string): Promise<string> {
  const dir = path.join(mediaRoot, 'FERRY');
  const st = await fsp.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new FerryError('MEDIA_NOT_FOUND', `${mediaRoot} holds no FERRY folder: is this a ferry stick, and is it mounted?`);
  return dir;
}

/** List and read (capped) every update on the stick and its trust material. */
export async function listMediaUpdates(mediaRoot: string): Promise<MediaUpdates> {
  const ferry = await ferryDir(mediaRoot);
  const dir = path.join(ferry, 'updates');
  const names = await fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw toFerryError(e, `cannot list ${dir}`);
  });
  const ids = names.filter((n) => n.endsWith('.json') && !n.startsWith('.') && ID_RE.test(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort();
  if (ids.length > MAX_UPDATES) throw new FerryError('MEDIA_DAMAGED', `${dir} holds ${ids.length} update manifests, more than ${MAX_UPDATES}: the media is damaged or not ferry's`);
  const updates: MediaUpdateFiles[] = [];
  for (const id of ids) updates.push(await readPair(dir, id, names.includes(`${id}.json.p7s`)));
  const trust = path.join(ferry, 'trust');
  const crlFile = path.join(trust, 'crl.pem');
  const crlCandidates = (await isFile(crlFile)) ? await readPemBlocks([crlFile], 'X509 CRL', CRL_CAP) : [];
  const crossCerts = await readPemBlocks(await pemFiles(path.join(trust, 'roots')), 'CERTIFICATE');
  return { updates, crlCandidates, crossCerts };
}

async function isFile(p: string): Promise<boolean> {
  return (await fsp.lstat(p).catch(() => undefined))?.isFile() ?? false;
}

async function readPair(dir: string, id: string, hasSignature: boolean): Promise<MediaUpdateFiles> {
  const manifestFile = path.join(dir, `${id}.json`);
  const signatureFile = `${manifestFile}.p7s`;
  const base = { id, manifestFile, signatureFile };
  try {
    if (!(await isFile(manifestFile))) throw new FerryError('UNSAFE_PATH', `${manifestFile} is not a regular file (a link or folder): refusing it`);
    const manifestBytes = await readFileCapped(manifestFile, Caps.updateManifest, 'update manifest');
    if (!hasSignature) {
      throw new FerryError('SIGNATURE_MISSING', `update ${id} has no signature (${id}.json.p7s): it is unsigned or the copy is incomplete; re-copy the stick or sign it with ferry sign`);
    }
    if (!(await isFile(signatureFile))) throw new FerryError('UNSAFE_PATH', `${signatureFile} is not a regular file (a link or folder): refusing it`);
    const signatureBytes = await readFileCapped(signatureFile, Caps.signature, 'signature');
    return { ...base, manifestBytes, signatureBytes };
  } catch (e) {
    return { ...base, problem: e instanceof FerryError ? e : toFerryError(e, `update ${id}`) };
  }
}
