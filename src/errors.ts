/**
 * ferry's one error type. Every failure a user can meet carries a stable `code`
 * (listed in the README), a one-line lower-case message that says what is wrong
 * and what to do, and an optional `cause`. UIs switch on `code`, never on text.
 */

/** Exit codes, as fixed in DESIGN.md section 5. */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  SECURITY: 3,
  NOT_APPLICABLE: 4,
  MEDIA_IO: 5,
  /** `ferry device drift` found the slot differing from its image's file index. */
  DRIFT: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Every error code ferry can raise, with the exit code it maps to. Add new codes here only. */
export const ERROR_CODES = {
  // usage and configuration
  USAGE: ExitCode.USAGE,
  BAD_INPUT_NAME: ExitCode.USAGE,
  CONFIG_INVALID: ExitCode.USAGE,
  UNKNOWN_SLOT_TYPE: ExitCode.USAGE,
  UNKNOWN_BOOTLOADER_TYPE: ExitCode.USAGE,
  PASSPHRASE_REQUIRED: ExitCode.USAGE,

  // image and media format
  UNSUPPORTED_MEDIA_TYPE: ExitCode.MEDIA_IO,
  INVALID_JSON: ExitCode.MEDIA_IO,
  INVALID_LAYOUT: ExitCode.MEDIA_IO,
  INVALID_MANIFEST: ExitCode.MEDIA_IO,
  FILE_TOO_LARGE: ExitCode.MEDIA_IO,
  IMAGE_NOT_FOUND: ExitCode.MEDIA_IO,
  AMBIGUOUS_IMAGE: ExitCode.USAGE,
  PLATFORM_NOT_FOUND: ExitCode.MEDIA_IO,
  BLOB_MISSING: ExitCode.MEDIA_IO,
  DIGEST_MISMATCH: ExitCode.SECURITY,
  SIZE_MISMATCH: ExitCode.SECURITY,
  CORRUPT_ARCHIVE: ExitCode.MEDIA_IO,
  CORRUPT_COMPRESSION: ExitCode.MEDIA_IO,
  MEDIA_INCOMPLETE: ExitCode.MEDIA_IO,
  MEDIA_DAMAGED: ExitCode.MEDIA_IO,
  MEDIA_NOT_FOUND: ExitCode.MEDIA_IO,
  NO_SPACE: ExitCode.MEDIA_IO,
  FILE_TOO_LARGE_FOR_FILESYSTEM: ExitCode.MEDIA_IO,
  UNSAFE_PATH: ExitCode.SECURITY,
  IO_ERROR: ExitCode.MEDIA_IO,
  READ_ONLY_MEDIA: ExitCode.MEDIA_IO,
  /** Something under FERRY/ is not a regular file (FIFO, socket, device, symlink): a hostile or broken stick. */
  UNSAFE_MEDIA: ExitCode.SECURITY,
  /** A size, count or depth from the stick exceeds its signed value or ferry's hard cap. */
  LIMIT_EXCEEDED: ExitCode.SECURITY,
  /** The signed update pins no chunk index (media made before verified streaming) and policy refuses such media. */
  CHUNK_INDEX_MISSING: ExitCode.SECURITY,
  /** Another ferry writes the same stick (HQ lock under FERRY/). */
  MEDIA_BUSY: ExitCode.FAILURE,
  /** A registry (docker:// input) refused the credentials, or there were none for a private repository. */
  REGISTRY_UNAUTHORIZED: ExitCode.FAILURE,
  /** A registry answered 429 longer than ferry waits (Retry-After honoured, bounded). */
  REGISTRY_RATE_LIMITED: ExitCode.FAILURE,
  /** A registry cannot be reached (DNS, refused, timed out). */
  REGISTRY_UNREACHABLE: ExitCode.FAILURE,
  /** A registry's TLS certificate is not trusted, or plain HTTP was met without --tls-verify=false. */
  REGISTRY_TLS: ExitCode.SECURITY,
  /** The connection dropped mid-blob more often than ferry resumes. */
  REGISTRY_INTERRUPTED: ExitCode.FAILURE,
  /** A registry answered with an error status or broke the protocol. */
  REGISTRY_ERROR: ExitCode.FAILURE,
  /** A different image already sits on the stick under the same <target>-<version>. */
  VERSION_EXISTS: ExitCode.USAGE,

  // trust and signatures
  SIGNATURE_MISSING: ExitCode.SECURITY,
  SIGNATURE_INVALID: ExitCode.SECURITY,
  MALFORMED_SIGNATURE: ExitCode.SECURITY,
  UNTRUSTED_SIGNER: ExitCode.SECURITY,
  SIGNER_NOT_CODE_SIGNING: ExitCode.SECURITY,
  CERT_EXPIRED: ExitCode.SECURITY,
  CERT_NOT_YET_VALID: ExitCode.SECURITY,
  CERT_REVOKED: ExitCode.SECURITY,
  CRL_INVALID: ExitCode.SECURITY,
  NOT_ENOUGH_SIGNERS: ExitCode.SECURITY,
  MANIFEST_EXPIRED: ExitCode.SECURITY,
  MANIFEST_INVALID: ExitCode.SECURITY,
  UNKNOWN_SCHEMA: ExitCode.SECURITY,
  DUPLICATE_JSON_KEY: ExitCode.SECURITY,
  KEY_INVALID: ExitCode.USAGE,
  TRUST_INVALID: ExitCode.USAGE,

  // applicability
  INCOMPATIBLE_DEVICE: ExitCode.NOT_APPLICABLE,
  DOWNGRADE_REFUSED: ExitCode.NOT_APPLICABLE,
  ALREADY_INSTALLED: ExitCode.NOT_APPLICABLE,
  NO_APPLICABLE_UPDATE: ExitCode.NOT_APPLICABLE,
  REQUIREMENT_NOT_MET: ExitCode.NOT_APPLICABLE,
  NOT_YET_ROLLED_OUT: ExitCode.NOT_APPLICABLE,
  /** The update is for another target name than the one this device follows. */
  WRONG_TARGET: ExitCode.NOT_APPLICABLE,

  // device engine
  SLOT_BUSY: ExitCode.FAILURE,
  /** The running slot is not committed (still on trial, or marked bad): keep it or go back before installing. */
  UPDATE_PENDING: ExitCode.FAILURE,
  SLOT_WRITE_FAILED: ExitCode.MEDIA_IO,
  BOOTLOADER_ERROR: ExitCode.FAILURE,
  STATE_INVALID: ExitCode.FAILURE,
  HEALTH_CHECK_FAILED: ExitCode.FAILURE,
  BOOTC_FAILED: ExitCode.FAILURE,
  CANCELLED: ExitCode.FAILURE,
  LOCKED: ExitCode.FAILURE,
  /** An apply was cut short (power cut, out of memory, killed) and is recorded by the next device command. */
  INTERRUPTED: ExitCode.FAILURE,
  COMMAND_FAILED: ExitCode.FAILURE,
  ROLLBACK_REFUSED: ExitCode.FAILURE,
  CONFIRMATION_REQUIRED: ExitCode.USAGE,
  ALREADY_PROVISIONED: ExitCode.USAGE,
  INTERNAL: ExitCode.FAILURE,

  // file index and drift
  /** The slot's files differ from the file index of the image it holds. */
  DRIFT_FOUND: ExitCode.DRIFT,
  /** No file index is known for the slot (written before ferry kept one, by bootc, or over the entry cap). */
  FILE_INDEX_MISSING: ExitCode.FAILURE,
  /** A file index (device state or stick) is malformed or truncated. */
  CORRUPT_FILE_INDEX: ExitCode.MEDIA_IO,

  // receipts at headquarters
  /** The file named as a receipts store is not one (another SQLite database, another file, damaged). */
  RECEIPTS_STORE_INVALID: ExitCode.USAGE,
  /** Files under FERRY/receipts/ are not valid receipts (damaged, foreign, special files): listed, left on the stick. */
  RECEIPT_REJECTED: ExitCode.MEDIA_IO,

  // campaigns (headquarters)
  /** A campaign file has problems (unknown key, missing image, duplicate update, unreadable signer, shared compatible string). */
  CAMPAIGN_INVALID: ExitCode.USAGE,
  /** A stick does not match its campaign (an image, signature, rollout window or CRL missing or different). */
  CAMPAIGN_MISMATCH: ExitCode.MEDIA_IO,
  /** A campaign build finished on some sticks only: the others failed and were dropped. */
  CAMPAIGN_STICK_FAILED: ExitCode.MEDIA_IO,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The base error: a stable code, a one-line message, and the cause it wraps. */
export class FerryError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (blob digest, slot name, ...) for --json output and receipts. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The exit code this error maps to (DESIGN.md section 5). */
  get exitCode(): ExitCode {
    return ERROR_CODES[this.code];
  }

  /** The same error with context prepended ("slot B: grub: ..."), keeping code and cause. */
  withContext(context: string): FerryError {
    const e = new FerryError(this.code, `${context}: ${this.message}`, { cause: this.cause, details: this.details });
    e.stack = this.stack;
    return e;
  }
}

/** True when `e` is a FerryError, optionally with the given code. */
export function isFerryError(e: unknown, code?: ErrorCode): e is FerryError {
  return e instanceof FerryError && (code === undefined || e.code === code);
}

/** Wrap any thrown value as a FerryError (system errors become IO_ERROR or NO_SPACE). */
export function toFerryError(e: unknown, context?: string): FerryError {
  let out: FerryError;
  if (e instanceof FerryError) out = e;
  else {
    const errno = (e as NodeJS.ErrnoException | undefined)?.code;
    const msg = e instanceof Error ? e.message : String(e);
    if (errno === 'ENOSPC') out = new FerryError('NO_SPACE', `no space left on device: ${msg}`, { cause: e });
    else if (errno === 'EROFS') out = new FerryError('READ_ONLY_MEDIA', `read-only file system: ${msg}`, { cause: e });
    else if (errno === 'EFBIG') out = new FerryError('FILE_TOO_LARGE_FOR_FILESYSTEM', `file too large for this file system: ${msg}`, { cause: e });
    else if (errno !== undefined) out = new FerryError('IO_ERROR', msg, { cause: e });
    else out = new FerryError('INTERNAL', msg, { cause: e });
  }
  return context === undefined ? out : out.withContext(context);
}
