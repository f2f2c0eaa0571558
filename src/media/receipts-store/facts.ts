/**
 * What a fleet report reads of a receipt, taken out of it once, at collect, and stored in columns
 * next to its bytes (store schema v2): a report of 10,000 receipts then reads a few short columns
 * per receipt instead of parsing and re-checking 10,000 JSON bodies, twice in the fleet bench.
 * The receipt passed the schema before its facts are taken (schema.ts), so every field here has
 * the type the schema checks; `rollback` is the one the schema leaves open, and only its target
 * version, when it is a string, is taken. Pure.
 */
import type { Receipt } from '../../device/receipts.js';

/** The fields of a receipt a report uses (report-model.ts). */
export interface ReceiptFacts {
  deviceId: string;
  stamp: string;
  action: Receipt['action'];
  /** As the receipt wrote it (the store's finished_at column is its UTC form, for ordering). */
  finishedAt: string;
  compatible: string;
  result: Receipt['result'];
  bootedSlot: Receipt['bootedSlot'];
  targetSlot?: Receipt['targetSlot'];
  version?: string;
  /** after.A.version and after.B.version. */
  afterA?: string;
  afterB?: string;
  rollbackReason?: string;
  errorMessage?: string;
  message?: string;
  /** rollback.to.version (an operator's rollback). */
  rollbackTo?: string;
}

/** The optional facts in store column order (store.ts), each with how it is taken from a receipt. */
export const OPTIONAL_FACTS: ReadonlyArray<readonly [keyof ReceiptFacts, string, (r: Receipt) => unknown]> = [
  ['targetSlot', 'target_slot', (r) => r.targetSlot],
  ['version', 'version', (r) => r.version],
  ['afterA', 'after_a', (r) => r.after.A?.version],
  ['afterB', 'after_b', (r) => r.after.B?.version],
  ['rollbackReason', 'rollback_reason', (r) => r.rollbackReason],
  ['errorMessage', 'error_message', (r) => r.error?.message],
  ['message', 'message', (r) => r.message],
  ['rollbackTo', 'rollback_to', (r) => (r as { rollback?: { to?: { version?: unknown } } }).rollback?.to?.version],
];

/** The facts of a receipt that passed the schema. */
export function factsOf(r: Receipt): ReceiptFacts {
  const f: ReceiptFacts = { deviceId: r.deviceId, stamp: r.stamp, action: r.action, finishedAt: r.finishedAt, compatible: r.compatible, result: r.result, bootedSlot: r.bootedSlot };
  for (const [key, , take] of OPTIONAL_FACTS) {
    const v = take(r);
    if (typeof v === 'string') (f as unknown as Record<string, string>)[key] = v;
  }
  return f;
}
