/**
 * A root-signed CRL found on a stick is kept by the device at once, whatever happens next
 * (finding: a stick that carries only a CRL, or whose updates are all refused, must still
 * revoke the signer for every later stick). The verifier says which CRL is newer than the
 * cached one (MediaVerifyResult.crlToCache); this writes it into the state.
 */
import { isFerryError } from '../errors.js';
import { toPem } from '../trust/der-write.js';
import type { DeviceContext, MediaVerifyResult } from './context.js';
import { acquireLock } from './lock.js';
import { type DeviceState, loadState, saveState } from './state.js';

/** With the device lock held (apply): record the CRL in `state` and save it. */
export async function keepRevocation(dev: DeviceContext, state: DeviceState, verified: MediaVerifyResult): Promise<void> {
  if (!verified.crlToCache) return;
  state.crlPem = toPem(verified.crlToCache, 'X509 CRL');
  await saveState(dev.config.stateDir, state);
}

/**
 * Without the lock (the TUI reading a stick): take it briefly and record the CRL. When
 * another ferry holds it (an apply is running), that apply verifies the same stick and keeps
 * the CRL itself, so nothing is lost by skipping here.
 */
export async function keepRevocationNow(dev: DeviceContext, verified: MediaVerifyResult): Promise<void> {
  if (!verified.crlToCache) return;
  let lock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    lock = await acquireLock(dev.config.stateDir, 'revocation');
  } catch (e) {
    if (isFerryError(e, 'LOCKED')) return;
    throw e;
  }
  try {
    await keepRevocation(dev, await loadState(dev.config.stateDir), verified);
  } finally {
    await lock.release();
  }
}
