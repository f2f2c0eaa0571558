/**
 * Where each error code is met, and what it means and what to do when it is met at
 * headquarters (release engineers running export, sign, verify, pki). The technician's
 * side (on the device) lives in the TUI's string table; docs/errors.md shows both, so an
 * HQ error never gets device advice like "re-copy the stick at headquarters" (issue 11,
 * finding 13). A Record over every code: a new code does not compile until it says where
 * it happens.
 */
import type { ErrorCode } from './errors.js';

/** Where an error is met. */
export type ErrorPlace = 'headquarters' | 'device' | 'both';

/** One error at headquarters: what it means there, and the next step there. */
export interface HqHelp {
  what: string;
  next: string;
}

/** Where each error is met; HQ help for every error met at headquarters. */
export type ErrorPlaceEntry = { where: 'device' } | ({ where: 'headquarters' | 'both' } & HqHelp);

const dev = { where: 'device' } as const;
const hq = (what: string, next: string): ErrorPlaceEntry => ({ where: 'headquarters', what, next });
const both = (what: string, next: string): ErrorPlaceEntry => ({ where: 'both', what, next });

const STICK_DAMAGED = 'run ferry verify --media on it; re-export onto a new stick if blobs are damaged';
const RESIGN = 're-export the update with ferry export --signer … --replace';

/** Every error code: where it is met, and the HQ meaning and fix when it is met there. */
export const ERROR_PLACES: Record<ErrorCode, ErrorPlaceEntry> = {
  USAGE: both('a command-line option is missing, wrong or contradicts another', 'read the message; ferry <command> --help lists the options'),
  BAD_INPUT_NAME: both('the --image input, target name or version is not valid, or names the wrong kind of path', 'oci: takes a layout folder, oci-archive: and docker-archive: a tar file; names are [a-z0-9][a-z0-9._-]*'),
  CONFIG_INVALID: dev,
  UNKNOWN_SLOT_TYPE: dev,
  UNKNOWN_BOOTLOADER_TYPE: dev,
  PASSPHRASE_REQUIRED: hq('a private key is encrypted and its passphrase was not given, or the passphrase file is missing or empty', 'pass --passphrase-file FILE or --passphrase-env VAR (--root-passphrase-* for the issuing CA of pki issue-signer)'),

  UNSUPPORTED_MEDIA_TYPE: both('the input image or the stick uses a media type ferry does not carry (an artifact, a schema 1 manifest)', 'rebuild or convert the image as an OCI or Docker v2 image (skopeo copy)'),
  INVALID_JSON: both('a JSON file of the input image or of the stick is not valid JSON', 're-save the input image (skopeo copy, podman save); for a stick, re-export it'),
  INVALID_LAYOUT: both('the input or the stick is not a valid OCI layout', 'check the --image path and transport; for a stick, re-export it onto a new one'),
  INVALID_MANIFEST: both("the input image's manifest or config is not valid", 'rebuild or re-save the image; skopeo inspect shows what it holds'),
  FILE_TOO_LARGE: both('a file of the input or of the stick is larger than ferry reads', 'the input is damaged or not an image: re-save it'),
  IMAGE_NOT_FOUND: both('the input image (path, ref or tag) was not found, or an update pins an image the stick does not hold', 'check the --image path and :REF (skopeo inspect lists them); re-export an update whose image is missing'),
  AMBIGUOUS_IMAGE: both('the input holds several images and none was named', 'add the ref to --image, e.g. oci-archive:kiosk.tar:2.3.1'),
  PLATFORM_NOT_FOUND: both('the input image has no build for the requested platform', 'pass a --platform os/arch the image has (skopeo inspect --raw shows the index)'),
  BLOB_MISSING: both('a blob of the input image or of the stick is missing', 're-save the input image; for the stick, re-export with --verify-existing'),
  DIGEST_MISMATCH: both('a blob of the input or of the stick does not match its digest, or a signed manifest pins another image', `re-save the input; for the stick, ${STICK_DAMAGED}`),
  SIZE_MISMATCH: both('a blob of the input or of the stick has the wrong size', `re-save the input; for the stick, ${STICK_DAMAGED}`),
  CORRUPT_ARCHIVE: both('an input archive or a layer tar is damaged', 're-save the image (skopeo copy, podman save) and export again'),
  CORRUPT_COMPRESSION: both('a layer of the input cannot be decompressed', 're-save the image and export again'),
  MEDIA_INCOMPLETE: both('the stick lacks part of an update (a signature without its manifest, or the reverse)', 'run the export or ferry sign again; ferry verify lists what is missing'),
  MEDIA_DAMAGED: both('blobs on the stick are damaged or missing', 're-export with --verify-existing, or use another stick'),
  MEDIA_NOT_FOUND: both('--media does not exist or holds no FERRY folder', 'check for a typo and that the stick is mounted; ferry export --create makes a new folder'),
  NO_SPACE: both('the stick is too small for what the export writes', 'use a larger stick or one with fewer images; the message names the bytes needed'),
  FILE_TOO_LARGE_FOR_FILESYSTEM: both("a blob is larger than the stick's file system allows (FAT32: 4 GiB)", 'format the stick as exFAT or ext4'),
  UNSAFE_PATH: both('a layer or a rootfs input holds a path that escapes (.., absolute, through a link)', 'rebuild the image without it: every device refuses it'),
  IO_ERROR: both('a read or write failed', 'the message names the file: check the path, its permissions and the stick'),
  READ_ONLY_MEDIA: both('the stick is mounted read-only', "remount it read-write (mount -o remount,rw) or check the stick's write-protect switch"),
  UNSAFE_MEDIA: both('the stick or an archive holds a special file or link where ferry expects a plain file', 'do not ship that stick: re-create it on a freshly formatted one'),
  LIMIT_EXCEEDED: both('an input or the stick exceeds a hard cap (size, count, depth)', 'the message names the cap; devices refuse the same, so shrink the image or split the stick'),
  CHUNK_INDEX_MISSING: both('an update on the stick was signed by a ferry before 0.2 and pins no chunk index', RESIGN),
  MEDIA_BUSY: hq('another ferry is writing this stick (FERRY/.lock names its pid and host)', 'wait for it to finish; a dead writer\'s lock is broken on the next run'),
  REGISTRY_UNAUTHORIZED: hq('the registry of a docker:// image refused access: no credentials for it, or wrong ones', 'log in with skopeo login or podman login (auth.json), or pass --authfile; ferry never takes a password on the command line'),
  REGISTRY_RATE_LIMITED: hq('the registry kept answering 429 (too many requests) for longer than ferry waits', 'try again later, log in (anonymous pulls have lower limits) or use a mirror'),
  REGISTRY_UNREACHABLE: hq('the registry of a docker:// image cannot be reached', 'check the host name, port, proxy and network'),
  REGISTRY_TLS: hq("the registry's TLS certificate is not trusted, or it speaks only plain HTTP", 'put its CA as ca.crt into a folder and pass --cert-dir; --tls-verify=false only for a registry you trust on a private network'),
  REGISTRY_INTERRUPTED: hq('the connection to the registry dropped mid-blob more often than ferry resumes', 'check the network and export again: blobs already on the stick are kept, none is half-written'),
  REGISTRY_ERROR: hq('the registry answered with an error or broke the distribution protocol', 'try again; if it persists, ask the registry operator (the message names the status)'),
  VERSION_EXISTS: hq('a different image is already on the stick under this target and version', 'use a new --version, or pass --replace to replace it and its signed update manifest'),

  SIGNATURE_MISSING: both('an update manifest has no signature', 'sign it: ferry export --signer, or ferry sign for a further signature'),
  SIGNATURE_INVALID: both('a signature does not match its update manifest', RESIGN),
  MALFORMED_SIGNATURE: both('a signature file is not a readable CMS signature', RESIGN),
  UNTRUSTED_SIGNER: both('a signer does not chain to a root in --trust', 'check --trust holds the devices\' root; after a root rotation put the cross-certificate on the stick (pki cross-sign --media)'),
  SIGNER_NOT_CODE_SIGNING: both('the signer certificate may not sign code', 'issue the signer with ferry pki issue-signer and sign again'),
  CERT_EXPIRED: both("the signer's certificate or its chain has expired", 'issue a new signer (ferry pki issue-signer) and re-sign'),
  CERT_NOT_YET_VALID: both("the signer's certificate is not valid yet", "check this machine's clock, then sign again"),
  CERT_REVOKED: both("the signer's certificate is revoked by the root's CRL", 'sign with another signer'),
  CRL_INVALID: both('a CRL in the root folder or on the stick is not valid or not signed by the root', 'put the root folder\'s CRL back on the stick: ferry pki publish-crl'),
  NOT_ENOUGH_SIGNERS: both('an update has fewer distinct trusted signers than --required-signers', 'have further signers add their signature with ferry sign'),
  MANIFEST_EXPIRED: both('an update on the stick has expired', `${RESIGN} and a new --expires`),
  MANIFEST_INVALID: both('an update manifest is not valid', RESIGN),
  UNKNOWN_SCHEMA: both('an update manifest was written by a newer ferry', 'use that ferry version, or re-export with this one'),
  DUPLICATE_JSON_KEY: both('a JSON file holds a key twice', 'do not hand-edit images or manifests: rebuild or re-export'),
  KEY_INVALID: hq('a key or certificate file is missing or not valid, or the passphrase is wrong', 'check that --signer / --root name a folder made by ferry pki (key.pem, cert.pem) and the passphrase'),
  TRUST_INVALID: both('the --trust folder is not valid', 'pass a folder with the root certificate in roots/ (mkdir -p trust/roots; cp root/cert.pem trust/roots/root.pem)'),

  INCOMPATIBLE_DEVICE: both('an update does not list the --compatible string', 're-export it with --compatible for that kind of device'),
  DOWNGRADE_REFUSED: dev,
  ALREADY_INSTALLED: dev,
  NO_APPLICABLE_UPDATE: dev,
  REQUIREMENT_NOT_MET: dev,
  NOT_YET_ROLLED_OUT: dev,
  WRONG_TARGET: dev,

  SLOT_BUSY: dev,
  DRIFT_FOUND: dev,
  FILE_INDEX_MISSING: both('the update pins no file index, so files cannot be compared', 're-export the update with ferry export --file-index'),
  CORRUPT_FILE_INDEX: both('a file index is malformed or truncated', STICK_DAMAGED),
  CAMPAIGN_INVALID: hq('the campaign file has problems (each listed with its line): unknown key, missing image input, duplicate target and version, unreadable signer, a compatible string claimed by two targets', 'fix every listed line and run the command again; nothing was written'),
  CAMPAIGN_MISMATCH: hq('a stick does not hold what its campaign says (an image, its signatures, rollout window or the CRL is missing or different)', 'run ferry campaign build with the same campaign and --media on that stick: it writes only what is missing'),
  CAMPAIGN_STICK_FAILED: hq('a campaign build failed on some sticks (pulled, read-only, full) and finished on the others', 'put the failed stick back (or use another) and run the same build again: it skips what is there'),
  UPDATE_PENDING: dev,
  SLOT_WRITE_FAILED: dev,
  BOOTLOADER_ERROR: dev,
  STATE_INVALID: dev,
  HEALTH_CHECK_FAILED: dev,
  BOOTC_FAILED: dev,
  CANCELLED: both('the command was cancelled (Ctrl-C or SIGTERM); its unfinished files were removed', 'run it again to finish'),
  LOCKED: dev,
  INTERRUPTED: dev,
  COMMAND_FAILED: both('a tool ferry runs (GNU tar, skopeo) failed', 'the message has its output; check that the tool is installed (samples/setup-debian.sh)'),
  ROLLBACK_REFUSED: dev,
  CONFIRMATION_REQUIRED: dev,
  ALREADY_PROVISIONED: dev,
  RECEIPTS_STORE_INVALID: hq('the file given as a receipts store (--into, --from) is not one: another SQLite database, another file, or damaged', 'name a new file, or the one ferry receipts collect made; restore a damaged store from backup'),
  RECEIPT_REJECTED: hq('files under FERRY/receipts/ on the stick are not valid receipts (damaged, foreign, renamed or moved, special files): they are listed and stay on the stick', 'look at the listed files; a forged or foreign receipt is a security finding: keep the stick for review'),
  INTERNAL: both('ferry hit an unexpected problem (a bug)', 'run again with FERRY_DEBUG=1 and report the stack trace'),
};
