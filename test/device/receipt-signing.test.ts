import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { deviceKeyPath, loadOrCreateDeviceKey } from '../../src/device/device-key.js';
import { initDevice } from '../../src/device/init.js';
import type { Receipt } from '../../src/device/receipts.js';
import { emptyState, loadState, saveState } from '../../src/device/state.js';
import { checkReceiptSignature, receiptSigningBytes } from '../../src/trust/receipt-signature.js';
import { parseDeviceCsr } from '../../src/trust/device-cert.js';
import { fromPem } from '../../src/trust/der-write.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';

let dev: TestDevice | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

/** A device whose slot A is on trial with `left` of 3 tries left and a failing health check. */
async function failingTrial(left: number): Promise<TestDevice> {
  dev = await makeDevice({ kind: 'file', healthCheck: { command: 'echo kiosk app did not start >&2; exit 3' } });
  const s = emptyState();
  s.slots.A = { status: 'pending', target: 'kiosk', version: '1.1.0', counter: 110, updateId: 'kiosk-1.1.0' };
  s.slots.B = { status: 'good', target: 'kiosk', version: '1.0.0', counter: 100 };
  await fsp.writeFile(dev.bootFile, JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: left }, B: { good: true, attemptsLeft: 3 } } }));
  await saveState(dev.stateDir, s);
  return dev;
}

describe('signed receipts', () => {
  it('signs a rollback receipt with the device key, with its reason and the boot attempts used', async () => {
    const d = await failingTrial(1);
    const r = await bootCheck({ ...d.opts, noReboot: true }, deviceDeps);
    const receipt = r.receipt!;
    expect(receipt).toMatchObject({ result: 'rolled-back', rollbackReason: expect.stringMatching(/kiosk app did not start/), bootAttempts: { used: 2, allowed: 3 } });
    const check = checkReceiptSignature(receipt as unknown as Record<string, unknown>);
    expect(check.ok).toBe(true);
    const key = await loadOrCreateDeviceKey(d.stateDir);
    expect(receipt.signature?.keyId).toBe(key.keyId);
    expect(key.created).toBe(false);
    expect((await fsp.stat(deviceKeyPath(d.stateDir))).mode & 0o777).toBe(0o600);
    // the queued copy in the state is the signed one
    expect((await loadState(d.stateDir)).pendingReceipts[0]?.signature).toEqual(receipt.signature);
  });

  it('makes a signature stock openssl verifies over the canonical bytes', async () => {
    const d = await failingTrial(2);
    const receipt = (await bootCheck({ ...d.opts, noReboot: true }, deviceDeps)).receipt!;
    const sig = receipt.signature!;
    await fsp.writeFile(path.join(d.root, 'canon.json'), receiptSigningBytes(receipt));
    await fsp.writeFile(path.join(d.root, 'sig.der'), Buffer.from(sig.value, 'base64'));
    await fsp.writeFile(path.join(d.root, 'pub.der'), Buffer.from(sig.publicKey, 'base64'));
    const out = execFileSync('openssl', ['dgst', '-sha256', '-verify', path.join(d.root, 'pub.der'), '-keyform', 'DER', '-signature', path.join(d.root, 'sig.der'), path.join(d.root, 'canon.json')], { encoding: 'utf8' });
    expect(out).toMatch(/Verified OK/);
  });

  it('detects a receipt changed after signing, and reports an old receipt as unsigned', async () => {
    const d = await failingTrial(1);
    const receipt = (await bootCheck({ ...d.opts, noReboot: true }, deviceDeps)).receipt!;
    const forged = { ...receipt, result: 'success' } as unknown as Record<string, unknown>;
    expect(checkReceiptSignature(forged)).toMatchObject({ ok: false, why: expect.stringMatching(/does not verify/) });
    const { signature: _s, ...old } = receipt as Receipt;
    expect(checkReceiptSignature(old as Record<string, unknown>)).toEqual({ ok: false, why: 'no signature' });
  });

  it('keeps one key across receipts and tightens a key file someone made readable', async () => {
    const d = await failingTrial(1);
    const first = await loadOrCreateDeviceKey(d.stateDir);
    await fsp.chmod(first.file, 0o644);
    const again = await loadOrCreateDeviceKey(d.stateDir);
    expect(again.keyId).toBe(first.keyId);
    expect((await fsp.stat(first.file)).mode & 0o777).toBe(0o600);
  });

  it('device init makes the key and an enrolment request for this device id', async () => {
    dev = await makeDevice({ kind: 'file' });
    const r = await initDevice({ ...dev.opts, booted: 'A', version: '1.0.0' }, deviceDeps);
    expect(r.changes).toContain(`create the receipt signing key ${deviceKeyPath(dev.stateDir)} (ECDSA P-256, mode 0600)`);
    const req = parseDeviceCsr(fromPem(r.deviceKey.csrPem, 'CERTIFICATE REQUEST')[0]!);
    expect(req).toMatchObject({ deviceId: '0123456789abcdef0123456789abcdef', keyId: r.deviceKey.keyId });
    const again = await initDevice({ ...dev.opts, booted: 'A', version: '1.0.0' }, deviceDeps);
    expect(again).toMatchObject({ changed: false, changes: [], deviceKey: { keyId: r.deviceKey.keyId } });
  });
});
