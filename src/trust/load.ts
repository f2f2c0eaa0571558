/**
 * Loading trust material from a trust directory (I/O shell; the verifier itself
 * reads no files): `roots/*.pem` (trust anchors), `cross/*.pem` (cross-certificates
 * the device already holds), `crl.pem` (the cached CRL). Every read is capped;
 * hidden files and AppleDouble `._*` files are ignored.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { exists, readFileCapped } from '../util/fsx.js';
import { fromPem } from './der-write.js';
import type { TrustMaterial } from './types.js';

const PEM_CAP = 1024 * 1024;
const CRL_CAP = 8 * 1024 * 1024;
const MAX_FILES = 64;

/**
 * The `.pem` names among a folder's `names`, sorted, hidden files skipped; more than 64 is
 * refused: TRUST_INVALID in the device's trust folder, LIMIT_EXCEEDED on a stick (`onMedia`).
 */
export function pemNames(names: string[], where: string, onMedia = false): string[] {
  const pems = names.filter((n) => n.endsWith('.pem') && !n.startsWith('.')).sort();
  if (pems.length > MAX_FILES) {
    throw onMedia
      ? new FerryError('LIMIT_EXCEEDED', `${where} holds ${pems.length} PEM files, more than ${MAX_FILES}: do not use this stick; report it to headquarters`)
      : new FerryError('TRUST_INVALID', `${where} holds ${pems.length} PEM files, more than ${MAX_FILES}: remove stale ones`);
  }
  return pems;
}

/** The `.pem` files of a folder (none when it is absent), sorted, hidden files skipped. */
export async function pemFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return pemNames(names, dir).map((n) => path.join(dir, n));
}

/** All PEM blocks with `label` in the files (capped reads). */
export async function readPemBlocks(files: string[], label: string, cap = PEM_CAP): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const f of files) out.push(...fromPem((await readFileCapped(f, cap, label.toLowerCase())).toString('utf8'), label));
  return out;
}

/** Options of loadTrustMaterial: device state the loader cannot find in the folder. */
export interface LoadTrustOptions {
  /** A cached CRL kept in the device state (PEM), overriding `<trustDir>/crl.pem`. */
  cachedCrlPem?: string;
  /** The device's trusted time (ms). */
  trustedTime?: number;
}

/** Load the trust directory into plain data for verifyUpdate. */
export async function loadTrustMaterial(trustDir: string, opts: LoadTrustOptions = {}): Promise<TrustMaterial> {
  const st = await fsp.stat(trustDir).catch(() => undefined);
  if (st && !st.isDirectory()) {
    // a certificate file given where the folder belongs: say how to make the folder, not to copy into the file
    throw new FerryError('TRUST_INVALID', `trust directory ${trustDir} is a file, not a folder: make a folder with roots/ in it (mkdir -p trust/roots && cp ${trustDir} trust/roots/root.pem) and pass --trust trust`);
  }
  if (!st) throw new FerryError('TRUST_INVALID', `trust directory ${trustDir} does not exist: make it with the root CA certificate in roots/ (mkdir -p ${trustDir}/roots && cp root/cert.pem ${trustDir}/roots/root.pem)`);
  const roots = await readPemBlocks(await pemFiles(path.join(trustDir, 'roots')), 'CERTIFICATE');
  if (roots.length === 0) throw new FerryError('TRUST_INVALID', `no root certificate in ${trustDir}/roots/*.pem: copy the root CA certificate (ferry pki init-root wrote cert.pem) there`);
  const crossCerts = await readPemBlocks(await pemFiles(path.join(trustDir, 'cross')), 'CERTIFICATE');
  let cachedCrl: Buffer | undefined;
  if (opts.cachedCrlPem !== undefined) cachedCrl = fromPem(opts.cachedCrlPem, 'X509 CRL')[0];
  else {
    const crlFile = path.join(trustDir, 'crl.pem');
    if (await exists(crlFile)) cachedCrl = (await readPemBlocks([crlFile], 'X509 CRL', CRL_CAP))[0];
  }
  return {
    roots,
    crossCerts,
    ...(cachedCrl ? { cachedCrl } : {}),
    ...(opts.trustedTime !== undefined ? { trustedTime: opts.trustedTime } : {}),
  };
}
