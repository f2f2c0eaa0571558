/** Test helper: receipts as devices write them (the device's own writer and signature), for HQ tests and the bench. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { RECEIPT_SCHEMA, type Receipt, utcStamp, writeReceipt } from '../../src/device/receipts.js';
import { signReceiptBytes } from '../../src/trust/receipt-signature.js';

/** A device key pair, as device-key.ts makes it. */
export function deviceKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** A receipt with sensible defaults; `over` replaces fields. */
export function receiptOf(deviceId: string, at: Date, over: Partial<Receipt> = {}): Receipt {
  const slots = { A: { status: 'good' as const, version: '1.0.0' }, B: { status: 'empty' as const } };
  return {
    schema: RECEIPT_SCHEMA, action: 'apply', stamp: utcStamp(at), deviceId, compatible: 'acme,kiosk-v2', result: 'success', bootedSlot: 'A',
    before: slots, after: slots, startedAt: new Date(at.getTime() - 1000).toISOString(), finishedAt: at.toISOString(), durationMs: 1000, ...over,
  };
}

/** Sign a receipt with `key` (unless null: an old, unsigned receipt). */
export function signed(r: Receipt, key: { privateKey: KeyObject; publicKey: KeyObject } | null): Receipt {
  return key ? { ...r, signature: signReceiptBytes(r, key.privateKey, key.publicKey) } : r;
}

/** Write receipts onto a stick with the device's writer; returns the files. */
export async function putOnStick(mediaRoot: string, receipts: Receipt[]): Promise<string[]> {
  const out: string[] = [];
  await mkdir(mediaRoot, { recursive: true });
  for (const r of receipts) out.push(await writeReceipt(mediaRoot, r));
  return out;
}
