/**
 * Every word the technician reads, in one table per language, and the error table:
 * one line per error code saying what it means on site and what to do next. Keyed by
 * the stable codes in src/errors.ts, never by message text.
 */
import { ERROR_CODES, type ErrorCode } from '../src/errors.js';
import { ERRORS_DE, HELP_DE, UI_DE } from './strings-de.js';

/** An error explained for the field: what happened, and the next step. */
export interface ErrorHelp {
  what: string;
  next: string;
}

export const ERRORS_EN: Partial<Record<ErrorCode, ErrorHelp>> = {
  USAGE: { what: 'ferry-tui was started with wrong options', next: 'check the service file or call support' },
  BAD_INPUT_NAME: { what: 'a name on the stick or command line is not valid', next: 're-create the stick at headquarters' },
  CONFIG_INVALID: { what: 'the device configuration is not valid', next: 'call support: the configuration file named in the detail (d) must be fixed' },
  UNKNOWN_SLOT_TYPE: { what: 'the device configuration names an unknown slot type', next: 'call support: the configuration file named in the detail (d) must be fixed' },
  UNKNOWN_BOOTLOADER_TYPE: { what: 'the device configuration names an unknown bootloader', next: 'call support: the configuration file named in the detail (d) must be fixed' },
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
  TRUST_INVALID: { what: 'the device\'s trust store is not valid', next: 'call support: the trust folder named in the detail (d) must be fixed' },
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
  INTERRUPTED: { what: 'an earlier update was cut short (power cut or crash); the running system was not touched', next: 'start the update again' },
  LOCKED: { what: 'another update is running on this device', next: 'wait for it to finish, then try again' },
  COMMAND_FAILED: { what: 'a system command failed', next: 'see the log (l), then call support' },
  ROLLBACK_REFUSED: { what: 'there is no committed system in the other slot to go back to', next: 'nothing to roll back to; call support if this system misbehaves' },
  CONFIRMATION_REQUIRED: { what: 'this action needs an explicit confirmation', next: 'choose the action again and confirm it' },
  ALREADY_PROVISIONED: { what: 'this device was already set up differently', next: 'call support: ferry device init --force replaces the setup' },
  INTERNAL: { what: 'ferry hit an unexpected problem', next: 'see the log (l), then call support' },
};

/** Words on screen (English). `{name}` marks a value filled in by fmt(). */
export const UI_EN = {
  appName: 'ferry',
  screenDevice: 'Device',
  screenMedia: 'Updates on the stick',
  screenVerify: 'Verify',
  screenConfirm: 'Confirm install',
  screenApply: 'Installing',
  screenDone: 'Done',
  screenRollback: 'Go back to the previous version',
  screenMarkGood: 'Keep this version',
  screenLog: 'Log',
  screenReceipts: 'Receipts',
  screenHelp: 'Help',
  screenDetail: 'Details',
  loading: 'reading…',
  working: 'working…',
  none: 'none',
  noneYet: 'none yet',
  moreOnD: 'more: press d for the whole text',
  noneParen: '(none)',
  noneFound: 'none found',
  next: 'Next',
  ready: 'ready',
  keysDevice: 'm stick  e receipts  d details  l log  ? help  q quit',
  keyKeep: 'g keep',
  keyGoBack: 'b go back',
  keysMedia: '↑↓ choose  Enter verify  d details  r rescan  n next stick  l log  ? help  q back',
  keysSwitch: 'Enter open the other stick  q back',
  keysVerify: 'Enter continue  q back  ? help',
  keysVerifyBusy: 'q stop',
  keysConfirm: 'Tab move  Enter choose  y install  d notes  q back  ? help',
  keysApply: 'c cancel  l log  ? help',
  keysApplyLate: 'cannot cancel now  l log',
  keysCancelAsk: 'y yes, cancel   n no, continue',
  keysDone: 'r reboot now  Enter later  l log  ? help',
  keysMaint: 'Tab move  Enter choose  y confirm  q back  ? help',
  keysBack: 'Enter back  l log',
  keysLog: '↑↓ scroll  d all text  q back',
  keysError: 'q back  l log',
  keysErrorDetail: 'd full detail  q back  l log',
  keysOverlay: '↑↓ scroll  q back',
  labelDevice: 'Device',
  labelRunning: 'Running',
  runningText: 'slot {slot}, version {v} ({status})',
  labelGoBack: 'Go back',
  goBackTo: 'possible to {v} (slot {slot}): b',
  labelRolledBack: 'Rolled back',
  rolledBackText: 'by operator at {at}, from {from} to {to}',
  labelBootCheck: 'Boot check',
  bootCheckPassed: 'passed',
  labelLast: 'Last action',
  labelBootOrder: 'Boot order',
  labelClock: 'Clock',
  labelFloor: 'Floor',
  floorNone: 'none yet (any release can be installed)',
  floorSet: 'set (older releases are refused)',
  floorVersion: 'versions older than {v} are refused',
  labelReceipts: 'Receipts',
  receiptsNone: 'none waiting',
  receiptsWaiting: '{n} waiting for a writable stick (e shows them)',
  deviceHint: 'Plug in the stick (m) to see its updates.',
  bootNever: 'will not boot',
  bootTrial: 'on trial, {n} tries left',
  bootFactory: 'boots (factory)',
  bootOk: 'committed',
  attnPending: 'Version {v} (slot {slot}) is on trial, not committed.',
  attnBad: 'Version {v} (slot {slot}) is running but marked bad.',
  labelHealth: 'Health check',
  healthFailed: 'FAILED',
  healthNotRun: 'not passed yet: the boot check has not committed this version',
  healthNoFailure: 'no failure recorded',
  choiceKeep: 'keep this version (commit it)',
  choiceBack: 'go back to {v}',
  choiceNoBack: 'no way back',
  stickSize: '{size}, {free} free',
  stickReadOnly: 'read-only: receipts wait on the device',
  stickWritable: 'writable',
  meterStopped: 'stopped at {done} of {total}',
  meterDone: '{total} in {t}',
  meterDoneAvg: '{total} in {t}, average {avg}',
  meterRunning: '{done} of {total}   {rate}   ETA {eta}',
  labelSignature: 'Signature',
  signatureValid: 'valid, signed by {who}',
  checking: 'checking…',
  trustedRoot: 'a trusted root',
  labelChain: 'Chain',
  versionSize: 'version {v}, {size}',
  labelBlobs: 'Blobs',
  blobsOk: 'every byte read and matched its digest',
  blobsNotAll: 'not every byte was checked',
  blobsReading: 'reading every blob and checking its digest',
  verifiedNext: 'verified. Press Enter to review the install.',
  verifyStopped: 'stopped: nothing was changed on the device.',
  cancelledWrote: 'cancelled: running system untouched; slot {slot} stays bad until rewritten.',
  cancelledClean: 'cancelled: the device is as before; the running system was not touched.',
  cancelling: 'cancelling… waiting for the current write to stop',
  cancelAsk: 'Cancel the update? The running system stays as it is.',
  cannotCancel: 'The bootloader is switching: cannot cancel now.',
  canCancel: 'Cancel (c) is possible until the bootloader switch.',
  stageVerifying: 'reading and checking every blob',
  stageWriting: 'writing and checking while streaming',
  labelStick: 'Stick',
  stickOf: '{i} of {n}, n next',
  stickSwitched: 'Stick {gone} was removed. Another stick is in: {next}. Press Enter to open it.',
  receiptsDelivered: '{n} waiting receipt(s) written to this stick (e shows them)',
  receiptsNotDelivered: 'receipts could not be written here',
  colUpdate: 'Update',
  colSize: 'Size',
  colSigner: 'Signer',
  colExpires: 'Expires',
  colStatus: 'Status',
  moreUpdates: '({n} updates, ↑↓ to see all)',
  updateSummary: 'version {v}, created {created}',
  engineChoice: 'the one ferry would choose',
  canInstall: 'can be installed: press Enter to verify every byte first',
  signerUnverified: 'not verified',
  reasonIncompatible: 'incompatible',
  reasonOlder: 'older release',
  reasonInstalled: 'already installed',
  reasonExpired: 'expired',
  reasonNotYet: 'not yet valid',
  reasonUntrusted: 'untrusted',
  reasonNeedsOlder: 'needs older first',
  reasonPending: 'finish pending first',
  reasonNoSpace: 'no space',
  reasonDamaged: 'damaged',
  reasonCannot: 'cannot install',
  reasonVerifyFailed: 'verify failed',
  labelCurrent: 'Current',
  currentNote: 'running, stays as fallback',
  labelNew: 'New',
  labelSlot: 'Slot room',
  slotRoom: '{free} free, needs {need}',
  freeUnknown: 'free space unknown',
  labelWrite: 'Write',
  estimate: 'about {t} at {rate} MB/s (read while verifying)',
  estimateUnknown: 'time unknown',
  labelSignedBy: 'Signed by',
  labelNotes: 'Release notes',
  notesAll: 'shows all',
  confirmQuestion: 'Install {v} into slot {slot}? The running system is not touched.',
  btnBack: 'Back',
  btnInstall: 'Install',
  btnGoBack: 'Go back',
  btnKeep: 'Keep',
  btnKeepAnyway: 'Keep anyway',
  lateCancel: 'Your cancel came too late: the update was already installed.',
  installed: 'Installed {v} into slot {slot}.',
  afterApply: 'Next: reboot. {v} gets {n} tries to start; the boot check commits it. If it does not pass, the device goes back by itself.',
  labelReceipt: 'Receipt',
  receiptOnStick: 'written to the stick:',
  receiptNotOnStick: 'not on the stick',
  removeStick: 'You can remove the stick now.',
  keepStick: 'It waits on the device: keep a writable stick in to receive it.',
  rebootAsk: 'Reboot now (r) or later (Enter).',
  rebooting: 'reboot requested…',
  rebootSent: 'The reboot command ran: the device restarts now. If it does not within a minute, reboot it by hand.',
  rebootToGoBack: 'Reboot now (r) to start it, or later (Enter).',
  noRollback: 'There is no previous version to go back to.',
  rollbackQuestion: 'Go back to {v} (slot {slot})?',
  rollbackRejects: '{v} is not committed: it is set aside (marked bad) and the device starts the previous version at the next boot.',
  rollbackKeeps: '{v} stays installed; the device starts the previous version at the next boot.',
  keepQuestion: 'Keep {v} (slot {slot}) as the committed version?',
  keepNote: 'It becomes the default; the other slot stays as the fallback.',
  floorWarn: 'This cannot be undone',
  secondQuestion: 'This version FAILED its health check. Are you sure? Choose "Keep anyway" to commit it.',
  logDevice: 'Device history (kept across runs)',
  logSession: 'This session',
  receiptsSummary: '{sent} receipt(s) written to sticks, {waiting} waiting for a writable stick',
  receiptsWaitingHead: 'Waiting on the device',
  receiptsSentHead: 'Written to sticks',
  signerHead: 'Signer {i} of {n}: {subject}',
  certIssuedBy: 'issued by {v}',
  certSerial: 'serial {v}',
  certValidity: 'valid from {from} until {until}',
  signedAt: 'signed at {v}',
  certFingerprint: 'SHA-256 {v}',
  chainRoot: 'chain ends at the trusted root {v}',
  chainHead: 'chain of {n} certificates, signer first, trusted root last:',
} as const;

/** Help per screen: what it shows and what the keys do. */
export const HELP_EN: Record<string, string[]> = {
  device: ['This screen shows what the device runs and what each slot (A and B) holds.', 'Status: good = committed; pending = installed and on trial; bad = will not be started; empty = never written.', 'If the running version is on trial or bad, a warning on top offers: g keep it (commit), b go back to the previous version.', 'm opens the stick, e shows receipts, d shows all details, l the log, q quits.'],
  media: ['The updates on the stick. ✓ ready can be installed; ✗ says why not, with the next step below.', 'The cursor starts on the update ferry would choose. Enter checks every byte of it first; nothing is installed yet.', 'd shows the full text of the selected update, n the next stick, r reads the sticks again.'],
  verify: ['Verify reads every byte of the update and compares it with its signature.', 'A failure is kept for as long as this stick stays in. q stops; nothing on the device is changed.'],
  confirm: ['Check what will be installed, where, how much, and how long it takes.', 'The running system stays as the fallback. Tab moves, Enter chooses, y installs, d shows all release notes.'],
  apply: ['The update is written into the other slot. c cancels until the bootloader switch; after that it cannot be cancelled.'],
  done: ['The update is installed. Reboot to start it; the boot check commits it if it is healthy, otherwise the device goes back.'],
  maint: ['Keep commits the running version; the anti-rollback floor then rises to it.', 'Go back starts the previous committed version at the next boot; it is recorded as a rollback by operator.'],
  log: ['The device history (kept across runs) and what happened in this session. d shows the full text.'],
  receipts: ['Receipts tell headquarters what this device did. They go onto the next writable stick by themselves.'],
  detail: ['Full text. ↑↓ scroll, q back.'],
};

/** A full language pack. */
export interface Strings {
  lang: string;
  ui: { [K in keyof typeof UI_EN]: string };
  help: Record<string, string[]>;
  errors: Partial<Record<ErrorCode, ErrorHelp>>;
}

const EN: Strings = { lang: 'en', ui: UI_EN, help: HELP_EN, errors: ERRORS_EN };

/** Language packs; add a language by adding one file like strings-de.ts and an entry here. */
export const LANGUAGES: Record<string, Strings> = {
  en: EN,
  de: { lang: 'de', ui: UI_DE, help: { ...HELP_EN, ...HELP_DE }, errors: { ...ERRORS_EN, ...ERRORS_DE } },
};

/** The pack for `lang`, falling back to English (callers check supportedLanguage first). */
export function stringsFor(lang: string | undefined): Strings {
  return (lang !== undefined && LANGUAGES[lang]) || EN;
}

/** True when `lang` has a pack. */
export function supportedLanguage(lang: string): boolean {
  return Object.hasOwn(LANGUAGES, lang);
}

/** Fill `{name}` placeholders. */
export function fmt(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (vars[k] !== undefined ? String(vars[k]) : m));
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
