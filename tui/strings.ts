/**
 * Every word the technician reads, in one table per language, and the error table:
 * one line per error code saying what it means on site and what to do next. Keyed by
 * the stable codes in src/errors.ts, never by message text.
 */
import { ERROR_CODES, type ErrorCode } from '../src/errors.js';

/** An error explained for the field: what happened, and the next step. */
export interface ErrorHelp {
  what: string;
  next: string;
}

const ERRORS_EN: Partial<Record<ErrorCode, ErrorHelp>> = {
  USAGE: { what: 'ferry-tui was started with wrong options', next: 'check the service file or call support' },
  BAD_INPUT_NAME: { what: 'a name on the stick or command line is not valid', next: 're-create the stick at headquarters' },
  CONFIG_INVALID: { what: 'the device configuration is not valid', next: 'call support: /etc/ferry/device.json must be fixed' },
  UNKNOWN_SLOT_TYPE: { what: 'the device configuration names an unknown slot type', next: 'call support: /etc/ferry/device.json must be fixed' },
  UNKNOWN_BOOTLOADER_TYPE: { what: 'the device configuration names an unknown bootloader', next: 'call support: /etc/ferry/device.json must be fixed' },
  PASSPHRASE_REQUIRED: { what: 'a signing key needs its passphrase', next: 'this is a headquarters task, not a device one' },
  UNSUPPORTED_MEDIA_TYPE: { what: 'the image uses a format ferry does not install', next: 're-export the image at headquarters' },
  INVALID_JSON: { what: 'a file on the stick is not valid JSON', next: 'the stick is damaged: re-copy it at headquarters' },
  INVALID_LAYOUT: { what: 'the image folder on the stick is not valid', next: 'the stick is damaged: re-copy it at headquarters' },
  INVALID_MANIFEST: { what: 'an image description on the stick is not valid', next: 'the stick is damaged: re-copy it at headquarters' },
  FILE_TOO_LARGE: { what: 'a file on the stick is larger than allowed', next: 'the stick is damaged or tampered: re-copy it at headquarters' },
  IMAGE_NOT_FOUND: { what: 'the image for this update is missing from the stick', next: 're-copy the stick at headquarters' },
  AMBIGUOUS_IMAGE: { what: 'the stick holds several images and none was named', next: 'choose an update from the list' },
  PLATFORM_NOT_FOUND: { what: 'the image has no build for this device type', next: 'ask headquarters for an image built for this device' },
  BLOB_MISSING: { what: 'part of the image is missing from the stick', next: 'the copy is incomplete: re-copy the stick at headquarters' },
  DIGEST_MISMATCH: { what: 'part of the image does not match its signature', next: 'the stick is damaged: re-copy it at headquarters' },
  SIZE_MISMATCH: { what: 'part of the image has the wrong size', next: 'the stick is damaged: re-copy it at headquarters' },
  CORRUPT_ARCHIVE: { what: 'an image layer is not a valid archive', next: 'the stick is damaged: re-copy it at headquarters' },
  CORRUPT_COMPRESSION: { what: 'an image layer cannot be decompressed', next: 'the stick is damaged: re-copy it at headquarters' },
  MEDIA_INCOMPLETE: { what: 'the copy on the stick is incomplete', next: 're-copy the stick at headquarters' },
  MEDIA_DAMAGED: { what: 'the stick is damaged', next: 're-copy it at headquarters' },
  MEDIA_NOT_FOUND: { what: 'no ferry stick was found', next: 'plug in the stick (it needs a FERRY folder) and press r' },
  NO_SPACE: { what: 'there is not enough space for the update', next: 'call support: the slot is too small for this image' },
  FILE_TOO_LARGE_FOR_FILESYSTEM: { what: 'a file is too large for the stick\'s file system', next: 're-create the stick as exFAT or ext4 at headquarters' },
  UNSAFE_PATH: { what: 'the image contains an unsafe file path', next: 'do not install: report this stick to headquarters' },
  IO_ERROR: { what: 'a read or write failed', next: 're-seat the stick and try again; if it repeats, use another stick' },
  READ_ONLY_MEDIA: { what: 'the stick is read-only', next: 'the receipt waits on the device for the next writable stick' },
  UNSAFE_MEDIA: { what: 'the stick holds a special file or link where ferry expects a plain file', next: 'do not use this stick: report it to headquarters' },
  LIMIT_EXCEEDED: { what: 'the update is larger or deeper than it is allowed to be', next: 'do not use this stick: report it to headquarters' },
  CHUNK_INDEX_MISSING: { what: 'the stick was made by an older ferry and cannot be checked while it is read', next: 'ask headquarters to re-export the stick with the current ferry' },
  MEDIA_BUSY: { what: 'another ferry is writing this stick', next: 'wait for it to finish, then try again' },
  VERSION_EXISTS: { what: 'a different image with this version is already on the stick', next: 'use a new version number, or pass --replace at headquarters' },
  SIGNATURE_MISSING: { what: 'the update is not signed', next: 'do not install: re-create the stick at headquarters' },
  SIGNATURE_INVALID: { what: 'the signature does not match the update', next: 'do not install: the stick is damaged or tampered' },
  MALFORMED_SIGNATURE: { what: 'the signature file is not readable', next: 'the stick is damaged: re-copy it at headquarters' },
  UNTRUSTED_SIGNER: { what: 'the update is signed by someone this device does not trust', next: 'do not install: report this stick to headquarters' },
  SIGNER_NOT_CODE_SIGNING: { what: 'the signer\'s certificate may not sign updates', next: 'headquarters must re-sign with a code-signing certificate' },
  CERT_EXPIRED: { what: 'the signer\'s certificate has expired', next: 'ask headquarters for a freshly signed stick' },
  CERT_NOT_YET_VALID: { what: 'the signer\'s certificate is not valid yet', next: 'check the device clock, or ask headquarters' },
  CERT_REVOKED: { what: 'the signer\'s certificate was revoked', next: 'do not install: ask headquarters for a new stick' },
  CRL_INVALID: { what: 'the revocation list on the stick is not valid', next: 're-copy the stick at headquarters' },
  NOT_ENOUGH_SIGNERS: { what: 'the update has fewer signatures than this device requires', next: 'ask headquarters for a stick with all signatures' },
  MANIFEST_EXPIRED: { what: 'the update has expired', next: 'ask headquarters for a freshly signed stick' },
  MANIFEST_INVALID: { what: 'the update description is not valid', next: 're-create the stick at headquarters' },
  UNKNOWN_SCHEMA: { what: 'the update was made by a newer ferry', next: 'update this device\'s ferry first, or ask headquarters' },
  DUPLICATE_JSON_KEY: { what: 'the update description is ambiguous (duplicate field)', next: 'do not install: report this stick to headquarters' },
  KEY_INVALID: { what: 'a key file is not valid', next: 'this is a headquarters task, not a device one' },
  TRUST_INVALID: { what: 'the device\'s trust store is not valid', next: 'call support: /etc/ferry/trust must be fixed' },
  INCOMPATIBLE_DEVICE: { what: 'this update is for another kind of device', next: 'use a stick made for this device' },
  DOWNGRADE_REFUSED: { what: 'this update is older than what the device has seen', next: 'use a stick with a newer release' },
  ALREADY_INSTALLED: { what: 'this version is already installed', next: 'nothing to do' },
  NO_APPLICABLE_UPDATE: { what: 'the stick holds no update for this device', next: 'use a stick made for this device' },
  REQUIREMENT_NOT_MET: { what: 'this update needs an intermediate release first', next: 'install the required release first' },
  NOT_YET_ROLLED_OUT: { what: 'this update may not be installed before its rollout date', next: 'wait for the rollout date, or ask headquarters' },
  WRONG_TARGET: { what: 'this update is for another product line than this device follows', next: 'use a stick made for this device' },
  SLOT_BUSY: { what: 'the slot is in use or cannot take this action', next: 'see the detail; call support if it repeats' },
  UPDATE_PENDING: { what: 'the running system is not committed yet (its update is on trial, or it is marked bad)', next: 'finish the pending update first: keep this version or go back, on the Device screen' },
  SLOT_WRITE_FAILED: { what: 'writing the new system failed; the running system is untouched', next: 'try again; if it repeats, call support' },
  BOOTLOADER_ERROR: { what: 'the boot settings could not be changed', next: 'do not reboot; call support' },
  STATE_INVALID: { what: 'the device\'s update records are damaged', next: 'call support' },
  HEALTH_CHECK_FAILED: { what: 'the new system failed its health check', next: 'roll back, then report to headquarters' },
  BOOTC_FAILED: { what: 'bootc could not stage the image', next: 'try again; if it repeats, call support' },
  CANCELLED: { what: 'the update was cancelled; the running system was not touched', next: 'start again when ready' },
  LOCKED: { what: 'another update is running on this device', next: 'wait for it to finish, then try again' },
  COMMAND_FAILED: { what: 'a system command failed', next: 'see the log (l), then call support' },
  ROLLBACK_REFUSED: { what: 'there is no committed system in the other slot to go back to', next: 'nothing to roll back to; call support if this system misbehaves' },
  CONFIRMATION_REQUIRED: { what: 'this action needs an explicit confirmation', next: 'choose the action again and confirm it' },
  ALREADY_PROVISIONED: { what: 'this device was already set up differently', next: 'call support: ferry device init --force replaces the setup' },
  INTERNAL: { what: 'ferry hit an unexpected problem', next: 'see the log (l), then call support' },
};

/** Words on screen (English). */
const UI_EN = {
  appName: 'ferry',
  screenDevice: 'Device',
  screenMedia: 'Updates on the stick',
  screenVerify: 'Verify',
  screenConfirm: 'Confirm install',
  screenApply: 'Installing',
  screenDone: 'Done',
  screenRollback: 'Roll back',
  screenMarkGood: 'Mark this system good',
  screenLog: 'Log',
  loading: 'reading…',
  keysDevice: 'm stick  g mark good  b roll back  r refresh  l log  q quit',
  keysMedia: '↑↓ choose  Enter verify  r rescan  n next stick  l log  q back',
  keysVerify: 'Enter continue  q back',
  keysVerifyBusy: 'q stop',
  keysConfirm: 'Tab move  Enter choose  y install  q back',
  keysApply: 'c cancel  l log',
  keysApplyLate: 'cannot cancel now  l log',
  keysCancelAsk: 'y yes, cancel   n no, continue',
  keysDone: 'r reboot now  Enter later  l log',
  keysMaint: 'Tab move  Enter choose  y confirm  q back',
  keysLog: '↑↓ scroll  q back',
  keysError: 'q back  l log',
} as const;

/** A full language pack. */
export interface Strings {
  ui: { [K in keyof typeof UI_EN]: string };
  errors: Partial<Record<ErrorCode, ErrorHelp>>;
}

/** Language packs; add a language by adding an entry. */
export const LANGUAGES: Record<string, Strings> = {
  en: { ui: UI_EN, errors: ERRORS_EN },
};

/** The pack for `lang`, falling back to English. */
export function stringsFor(lang: string | undefined): Strings {
  return (lang !== undefined && LANGUAGES[lang]) || LANGUAGES.en!;
}

/** Explain an error code; unknown codes fall back by exit-code family. */
export function explainError(s: Strings, code: string): ErrorHelp {
  const known = s.errors[code as ErrorCode];
  if (known) return known;
  const exit = (ERROR_CODES as Record<string, number>)[code];
  if (exit === 3) return { what: 'the update was refused for security reasons', next: 'do not install: report this stick to headquarters' };
  if (exit === 5) return { what: 'the stick or a disk could not be read', next: 're-copy the stick at headquarters' };
  if (exit === 4) return { what: 'this update does not apply to this device', next: 'use a stick made for this device' };
  return { what: 'something went wrong', next: 'see the log (l), then call support' };
}
