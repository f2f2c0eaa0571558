/**
 * The receipt schema as HQ checks it (src/device/receipts.ts writes `ferry.receipt/v1`).
 * Receipts come off sticks anyone could have written: each is parsed strictly (size cap,
 * UTF-8, no duplicate keys) and every field checked, listing every problem at once. Pure.
 */
import type { Receipt } from '../../device/receipts.js';
import { RECEIPT_SCHEMA } from '../../device/receipts.js';
import { parseStrictJson } from '../../util/json.js';

/** Largest receipt HQ accepts (a drift receipt with 200 findings is well under 256 KiB). */
export const RECEIPT_CAP = 512 * 1024;
const ACTIONS: ReadonlyArray<Receipt['action']> = ['apply', 'boot-check', 'mark-good', 'mark-bad', 'rollback', 'drift'];
const RESULTS: ReadonlyArray<Receipt['result']> = ['success', 'failure', 'cancelled', 'rolled-back', 'nothing-to-do'];
const STAMP = /^\d{8}T\d{6}(\.\d{1,3})?Z$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): boolean => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
const isStr = (v: unknown, max = 4096): boolean => typeof v === 'string' && v.length <= max;

/** A receipt that passed the schema, with the bytes it came as. */
export interface CheckedReceipt {
  receipt: Receipt;
  bytes: Buffer;
}

/** The outcome of checking one file: the receipt, or every reason it is refused. */
export type ReceiptCheck = { ok: true; value: CheckedReceipt } | { ok: false; problems: string[] };

function checkSlots(name: string, v: unknown, bad: string[]): void {
  if (!isObj(v) || !isObj(v.A) || !isObj(v.B)) return void bad.push(`${name} must hold slots A and B`);
  for (const s of ['A', 'B'] as const) {
    const r = v[s] as Record<string, unknown>;
    if (!isStr(r.status, 16)) bad.push(`${name}.${s}.status must be a string`);
    if (r.version !== undefined && !isStr(r.version, 256)) bad.push(`${name}.${s}.version must be a string`);
  }
}

function checkOptional(v: Record<string, unknown>, bad: string[]): void {
  for (const k of ['updateId', 'version', 'imageDigest', 'message', 'rollbackReason'] as const) if (v[k] !== undefined && !isStr(v[k])) bad.push(`${k} must be a string`);
  if (v.targetSlot !== undefined && v.targetSlot !== 'A' && v.targetSlot !== 'B') bad.push('targetSlot must be A or B');
  if (v.counter !== undefined && !Number.isSafeInteger(v.counter)) bad.push('counter must be an integer');
  if (v.error !== undefined && !(isObj(v.error) && isStr(v.error.code, 64) && isStr(v.error.message))) bad.push('error must be {code, message}');
  if (v.bootAttempts !== undefined && !(isObj(v.bootAttempts) && Number.isSafeInteger(v.bootAttempts.used) && Number.isSafeInteger(v.bootAttempts.allowed))) bad.push('bootAttempts must be {used, allowed}');
  if (v.drift !== undefined && !(isObj(v.drift) && isObj(v.drift.counts))) bad.push('drift must be {counts, items, ...}');
  if (v.signature !== undefined && !(isObj(v.signature) && isStr(v.signature.alg, 64) && isStr(v.signature.keyId, 80) && isStr(v.signature.publicKey, 1024) && isStr(v.signature.value, 1024))) {
    bad.push('signature must be {alg, keyId, publicKey, value}');
  }
}

/** Check a parsed value against the receipt schema; returns every problem found. */
export function receiptProblems(v: unknown): string[] {
  const bad: string[] = [];
  if (!isObj(v)) return ['is not a JSON object'];
  if (v.schema !== RECEIPT_SCHEMA) return [`schema is not "${RECEIPT_SCHEMA}" (not a ferry receipt)`];
  if (!ACTIONS.includes(v.action as Receipt['action'])) bad.push(`action must be one of ${ACTIONS.join(', ')}`);
  if (typeof v.stamp !== 'string' || !STAMP.test(v.stamp)) bad.push('stamp must be a UTC stamp like 20261122T001500.123Z');
  if (!isStr(v.deviceId, 256) || v.deviceId === '') bad.push('deviceId must be a string');
  if (!isStr(v.compatible, 256)) bad.push('compatible must be a string');
  if (!RESULTS.includes(v.result as Receipt['result'])) bad.push(`result must be one of ${RESULTS.join(', ')}`);
  if (v.bootedSlot !== 'A' && v.bootedSlot !== 'B') bad.push('bootedSlot must be A or B');
  checkSlots('before', v.before, bad);
  checkSlots('after', v.after, bad);
  if (!isTime(v.startedAt)) bad.push('startedAt must be a time');
  if (!isTime(v.finishedAt)) bad.push('finishedAt must be a time');
  if (typeof v.durationMs !== 'number') bad.push('durationMs must be a number');
  checkOptional(v, bad);
  return bad;
}

/**
 * Check one file from `FERRY/receipts/<folder>/<name>`: strict JSON, the schema, and that
 * the file name and folder agree with what the receipt says (a receipt moved into another
 * device's folder, or renamed, is refused: the path is how a device filed it).
 */
export function checkReceiptFile(bytes: Buffer, folder: string, name: string): ReceiptCheck {
  let v: unknown;
  try {
    v = parseStrictJson(bytes, RECEIPT_CAP, 'receipt');
  } catch (e) {
    return { ok: false, problems: [(e as Error).message] };
  }
  const bad = receiptProblems(v);
  if (bad.length === 0) {
    const r = v as Receipt;
    if (r.deviceId !== folder) bad.push(`deviceId "${r.deviceId}" is not its folder "${folder}"`);
    const m = /^(.+?)-(apply|boot-check|mark-good|mark-bad|rollback|drift)(-\d{1,4})?\.json$/.exec(name);
    if (!m || m[1] !== r.stamp || m[2] !== r.action) bad.push(`file name does not match its stamp and action (${r.stamp}-${r.action}.json)`);
  }
  return bad.length === 0 ? { ok: true, value: { receipt: v as Receipt, bytes } } : { ok: false, problems: bad };
}
