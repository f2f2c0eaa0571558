/**
 * Whether a stored receipt counts in a report: its signature must verify, and its key must be
 * enrolled for the device the receipt names (a certificate from the device CA with that device
 * id as its common name). Everything else is marked and left out of the counts. Pure: the
 * enrolment register comes in as data (trust/enroll.ts loads it).
 */
import { checkReceiptSignature } from '../../trust/receipt-signature.js';

/** How a receipt's origin checked out. */
export type Verdict =
  /** Signed, and the key is enrolled for this device. */
  | 'verified'
  /** Signed with a valid signature; enrolment not checked (no device CA given). */
  | 'signed'
  /** Signed with a valid signature by a key no device certificate names for this device. */
  | 'unenrolled'
  /** Has a signature that does not verify (changed after signing, or forged). */
  | 'bad-signature'
  /** Made before devices signed receipts. */
  | 'unsigned';

/** The enrolment register as the verdict needs it: key id → enrolled device id. */
export type EnrolledKeys = ReadonlyMap<string, string>;

/** Policy: which verdicts count. */
export interface VerdictPolicy {
  /** The enrolled keys; absent: enrolment is not checked (valid signatures count as 'signed'). */
  enrolled?: EnrolledKeys;
  /** Count unsigned receipts (fleets with devices from before receipts were signed). */
  acceptUnsigned?: boolean;
}

/** The verdict on one receipt, with the reason when it does not count. */
export function verdictOf(receipt: Record<string, unknown>, policy: VerdictPolicy): { verdict: Verdict; why?: string } {
  if (receipt.signature === undefined) return { verdict: 'unsigned', why: 'the receipt is not signed (made before devices signed receipts)' };
  const check = checkReceiptSignature(receipt);
  if (!check.ok) return { verdict: 'bad-signature', why: check.why };
  if (policy.enrolled === undefined) return { verdict: 'signed' };
  const owner = policy.enrolled.get(check.keyId);
  if (owner === undefined) return { verdict: 'unenrolled', why: `key ${check.keyId.slice(0, 23)}… is not enrolled (ferry pki enroll-device)` };
  if (owner !== receipt.deviceId) return { verdict: 'unenrolled', why: `key ${check.keyId.slice(0, 23)}… is enrolled for device ${owner}, not ${String(receipt.deviceId)}` };
  return { verdict: 'verified' };
}

/** True when a receipt with this verdict counts under the policy. */
export function counts(v: Verdict, policy: VerdictPolicy): boolean {
  return v === 'verified' || v === 'signed' || (v === 'unsigned' && Boolean(policy.acceptUnsigned));
}
