/**
 * Key and certificate files at headquarters (I/O shell): PEM private keys, PKCS#8,
 * optionally encrypted (PBES2: PBKDF2 + AES-256-CBC, as OpenSSL writes it) with a
 * passphrase that comes from an environment variable or a file, never from argv.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { exists, readFileCapped, writeFileAtomic } from '../util/fsx.js';
import { fromPem, toPem } from './der-write.js';

const PEM_CAP = 1024 * 1024;

/** Where a passphrase comes from (CLI: --passphrase-env VAR / --passphrase-file FILE). */
export interface PassphraseSource {
  env?: string;
  file?: string;
  /** The option that named the file, for the message (default --passphrase-file). */
  fileOption?: string;
}

/** Read a passphrase from its source; undefined when no source was given. */
export async function readPassphrase(src: PassphraseSource, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (src.env !== undefined && src.file !== undefined) throw new FerryError('USAGE', 'give either a passphrase variable or a passphrase file, not both');
  if (src.env !== undefined) {
    const v = env[src.env];
    if (v === undefined || v === '') throw new FerryError('PASSPHRASE_REQUIRED', `environment variable ${src.env} is not set: export it with the key's passphrase`);
    return v;
  }
  if (src.file !== undefined) {
    const option = src.fileOption ?? '--passphrase-file';
    const refuse = (why: string, cause?: unknown) =>
      new FerryError('PASSPHRASE_REQUIRED', `passphrase file ${src.file} (${option}) ${why}: check the path; the file holds the key's passphrase on one line`, { cause, details: { file: src.file } });
    const st = await fsp.stat(src.file).catch((e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      throw code === 'ENOENT' || code === 'ENOTDIR' ? refuse('does not exist', e) : code === 'EACCES' ? refuse('cannot be read (permission denied)', e) : e;
    });
    if (st.isDirectory()) throw refuse('is a folder');
    const bytes = await readFileCapped(src.file, 64 * 1024, 'passphrase file').catch((e: unknown) => {
      throw (e as NodeJS.ErrnoException).code === 'EACCES' ? refuse('cannot be read (permission denied)', e) : e;
    });
    const text = bytes.toString('utf8').replace(/\r?\n$/, '');
    if (text === '') throw new FerryError('PASSPHRASE_REQUIRED', `passphrase file ${src.file} (${option}) is empty: write the key's passphrase into it`);
    return text;
  }
  return undefined;
}

/** A new RSA private key (3072 bits unless asked for more). */
export function generateRsaKey(bits = 3072): KeyObject {
  if (bits < 3072) throw new FerryError('USAGE', `RSA keys of ${bits} bits are too weak for a long-lived PKI: use 3072 or more`);
  return generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
}

/** Write a private key as PKCS#8 PEM (encrypted when a passphrase is given), mode 0600, never overwriting. */
export async function writePrivateKey(file: string, key: KeyObject, passphrase?: string): Promise<void> {
  if (await exists(file)) {
    throw new FerryError('USAGE', `${file} already exists: refusing to overwrite a private key; choose another --out`);
  }
  const pem = passphrase ? key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) : key.export({ type: 'pkcs8', format: 'pem' });
  await writeFileAtomic(file, pem as string, 0o600);
}

/** Read a PEM private key; an encrypted one needs its passphrase. */
export async function readPrivateKey(file: string, passphrase?: string, options = '--passphrase-env VAR or --passphrase-file FILE'): Promise<KeyObject> {
  const pem = await readPem(file, 'private key');
  const encrypted = pem.includes('ENCRYPTED');
  if (encrypted && passphrase === undefined) {
    // `options` names the command's own options for this key (an issuer's key has --root-passphrase-*)
    throw new FerryError('PASSPHRASE_REQUIRED', `${file} is encrypted: pass its passphrase with ${options}`);
  }
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: passphrase! } : { key: pem, format: 'pem' });
  } catch (e) {
    throw new FerryError('KEY_INVALID', `cannot read private key ${file}${encrypted ? ' (wrong passphrase?)' : ''}: ${(e as Error).message}`, { cause: e });
  }
}

/** Read a PEM file with a size cap. */
export async function readPem(file: string, what: string): Promise<string> {
  try {
    return (await readFileCapped(file, PEM_CAP, what)).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FerryError('KEY_INVALID', `${what} ${file} does not exist`, { cause: e });
    throw e;
  }
}

/** All certificates in a PEM file, DER. */
export async function readCertificates(file: string, what = 'certificate'): Promise<Buffer[]> {
  const certs = fromPem(await readPem(file, what), 'CERTIFICATE');
  if (certs.length === 0) throw new FerryError('KEY_INVALID', `${file} holds no PEM certificate`);
  return certs;
}

/** Write certificates as PEM (atomically). */
export async function writeCertificates(file: string, ders: Uint8Array[]): Promise<void> {
  await writeFileAtomic(file, ders.map((d) => toPem(d, 'CERTIFICATE')).join(''));
}
