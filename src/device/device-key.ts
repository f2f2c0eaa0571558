/**
 * The device's receipt key (issue 15): ECDSA P-256, `<stateDir>/device-key.pem` (PKCS#8,
 * mode 0600, nowhere else). Made by `ferry device init`, or by the first receipt on a device
 * provisioned before receipts were signed. Written crash-safely without ever replacing a
 * key that exists: temp file, fsync, link() to the final name (which fails when another
 * process got there first), fsync the folder. Every receipt is signed before the state that
 * queues it is saved (state.ts saveState), so nothing unsigned leaves the device.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { buildDeviceCsr } from '../trust/device-cert.js';
import { toPem } from '../trust/der-write.js';
import { publicKeyId, signReceiptBytes } from '../trust/receipt-signature.js';
import { fsyncDir, readFileCapped, tempNameFor } from '../util/fsx.js';
import type { Receipt } from './receipts.js';

const KEY_CAP = 64 * 1024;

/** The device's receipt key pair and its id. */
export interface DeviceKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** "sha256:<hex>" of the SubjectPublicKeyInfo. */
  keyId: string;
  file: string;
  /** True when this call made the key. */
  created: boolean;
}

/** Where the private key lives. */
export function deviceKeyPath(stateDir: string): string {
  return path.join(stateDir, 'device-key.pem');
}

function fromPemKey(pem: Buffer, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new FerryError('STATE_INVALID', `the device key ${file} cannot be read (${(e as Error).message}): move it away; a new key is made, and must be enrolled again at headquarters`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new FerryError('STATE_INVALID', `the device key ${file} is not an ECDSA P-256 key: move it away; a new key is made, and must be enrolled again at headquarters`);
  }
  return key;
}

async function readKey(file: string): Promise<KeyObject | undefined> {
  let pem: Buffer;
  try {
    pem = await readFileCapped(file, KEY_CAP, 'device key');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const st = await fsp.stat(file);
  // a key someone made readable is tightened, not refused: refusing would stop every receipt
  if ((st.mode & 0o077) !== 0) await fsp.chmod(file, 0o600);
  return fromPemKey(pem, file);
}

/** Write a new key without replacing one that appeared meanwhile (link fails with EEXIST). */
async function createKey(file: string): Promise<boolean> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tmp = tempNameFor(file);
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    await fh.writeFile(privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.link(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return false;
  } finally {
    await fsp.rm(tmp, { force: true });
    await fsyncDir(path.dirname(file));
  }
}

/** Load the device key, making it first when there is none. */
export async function loadOrCreateDeviceKey(stateDir: string): Promise<DeviceKey> {
  const file = deviceKeyPath(stateDir);
  let key = await readKey(file);
  let created = false;
  if (key === undefined) {
    await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
    created = await createKey(file);
    key = await readKey(file);
    if (key === undefined) throw new FerryError('IO_ERROR', `the device key ${file} vanished right after it was written`);
  }
  const publicKey = createPublicKey(key);
  return { privateKey: key, publicKey, keyId: publicKeyId(publicKey), file, created };
}

/** The device's enrolment request (PKCS#10, PEM) for headquarters' `ferry pki enroll-device`. */
export function deviceCsrPem(deviceId: string, key: DeviceKey): string {
  return toPem(buildDeviceCsr(deviceId, key.privateKey), 'CERTIFICATE REQUEST');
}

/** Sign every receipt in `receipts` that has no signature yet (in place); makes the key at the first one. */
export async function signUnsignedReceipts(stateDir: string, receipts: Receipt[]): Promise<void> {
  const todo = receipts.filter((r) => r.signature === undefined);
  if (todo.length === 0) return;
  const key = await loadOrCreateDeviceKey(stateDir);
  for (const r of todo) r.signature = signReceiptBytes(r, key.privateKey, key.publicKey);
}
