/**
 * Whether a stored receipt counts in a report: its signature must verify, and its key must be
 * enrolled for the device the receipt names (a certificate from the device CA with that device
 * id as its common name). Everything else is marked and left out of the counts. The signature
 * itself is checked once, when the receipt is collected (its outcome is stored with it, as
 * `sig`): a fleet report reads 10,000 receipts, and the store is HQ's own append-only file.
 * Pure: the enrolment register comes in as data (trust/enroll.ts loads it).
 */
/** The stored outcome of a signature check (trust/receipt-signature.ts receiptSignatureOutcome): "ok:<key id>", "unsigned" or "bad:<why>". */
export type StoredSig = string;

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

/** The verdict on one receipt of `deviceId` whose signature check stored `sig`, with the reason when it does not count. */
export function verdictOf(sig: StoredSig, deviceId: string, policy: VerdictPolicy): { verdict: Verdict; why?: string } {
  if (sig === 'unsigned') return { verdict: 'unsigned', why: 'the receipt is not signed (made before devices signed receipts)' };
  if (!sig.startsWith('ok:')) return { verdict: 'bad-signature', why: sig.startsWith('bad:') ? sig.slice(4) : 'signature not checked' };
  const keyId = sig.slice(3);
  if (policy.enrolled === undefined) return { verdict: 'signed' };
  const owner = policy.enrolled.get(keyId);
  if (owner === undefined) return { verdict: 'unenrolled', why: `key ${keyId.slice(0, 23)}… is not enrolled (ferry pki enroll-device)` };
  if (owner !== deviceId) return { verdict: 'unenrolled', why: `key ${keyId.slice(0, 23)}… is enrolled for device ${owner}, not ${deviceId}` };
  return { verdict: 'verified' };
}

/** True when a receipt with this verdict counts under the policy. */
export function counts(v: Verdict, policy: VerdictPolicy): boolean {
  return v === 'verified' || v === 'signed' || (v === 'unsigned' && Boolean(policy.acceptUnsigned));
}
