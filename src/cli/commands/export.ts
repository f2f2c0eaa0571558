/** `ferry export`: put an image onto the media store, and sign an update manifest for it when --signer is given. */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { applyRuntimeFlags } from '../../node-flags.js';
import { exportImage, type ExportResult, refName, undoExport } from '../../media/export.js';
import type { MediaLock } from '../../media/lock.js';
import { checkPublishPlan, type PublishPlan, publishUpdate, type PublishResult } from '../../media/publish.js';
import { readPassphrase } from '../../trust/keys.js';
import { loadFileSigner } from '../../trust/signer.js';
import type { Signer } from '../../trust/types.js';
import { hqWrite } from '../cancel.js';
import { warmChunkHasher } from '../../oci/chunk-hasher-parallel.js';
import { defaultChunkCacheDir, openChunkCache } from '../../oci/chunk-cache.js';
import type { CompressChoice } from '../../oci/layer-copy.js';
import { registryOptionsOf } from '../registry-options.js';
import { checkTargetAndVersion, parseInputName } from '../../oci/input-name.js';
import { formatPlatform, parsePlatform } from '../../oci/types.js';
import { readFileCapped } from '../../util/fsx.js';
import { action, cliProgress, printJson, printLines, printNotes } from '../run.js';


/** Release notes are shown on a device screen: 64 KiB is plenty. */
const NOTES_CAP = 64 * 1024;
const COMPRESS: readonly CompressChoice[] = ['keep', 'gzip', 'zstd', 'none'];

interface ExportOpts {
  image: string;
  target: string;
  version: string;
  media: string;
  fileIndex?: boolean;
  platform?: string;
  compress: string;
  verifyExisting?: boolean;
  checkLayers?: boolean;
  /** A folder, or false for --no-chunk-cache. */
  chunkCache?: string | false;
  json?: boolean;
  progress?: boolean;
  signer?: string;
  compatible: string[];
  replaces: string[];
  counter?: string;
  expires?: string;
  notes?: string;
  passphraseEnv?: string;
  passphraseFile?: string;
  replace?: boolean;
  create?: boolean;
  allowExpiryPastSigner?: boolean;
  authfile?: string;
  certDir?: string;
  tlsVerify: string;
}

/** What signing needs, loaded and checked before anything is written. */
interface SigningPlan {
  notes: string | undefined;
  signer: Signer;
  plan: PublishPlan;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function parseCounter(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,15}$/.test(s)) throw new FerryError('USAGE', `--counter "${s}" is not a non-negative integer`);
  return Number(s);
}

/**
 * Check the signing options and load the signer key (decrypting it) before anything is
 * written (plan, then act): a wrong passphrase never leaves an unsigned image behind.
 */
async function checkSigning(opts: ExportOpts): Promise<SigningPlan | undefined> {
  if (opts.signer === undefined) {
    if (opts.compatible.length || opts.replaces.length || opts.counter || opts.expires || opts.notes || opts.passphraseEnv || opts.passphraseFile) {
      throw new FerryError('USAGE', '--compatible, --replaces, --counter, --expires, --notes and --passphrase-* only apply with --signer <dir>');
    }
    return undefined;
  }
  if (opts.compatible.length === 0) throw new FerryError('USAGE', '--signer needs at least one --compatible <string> (the devices allowed to install this image)');
  parseCounter(opts.counter);
  for (const f of ['key.pem', 'cert.pem']) {
    try {
      await fsp.access(path.join(opts.signer, f));
    } catch {
      throw new FerryError('KEY_INVALID', `signer folder ${opts.signer} has no ${f}: create one with ferry pki issue-signer`);
    }
  }
  const notes = opts.notes === undefined ? undefined : (await readFileCapped(opts.notes, NOTES_CAP, 'release notes')).toString('utf8');
  const passphrase = await readPassphrase({ env: opts.passphraseEnv, file: opts.passphraseFile });
  const signer = await loadFileSigner(opts.signer, passphrase);
  const counter = parseCounter(opts.counter);
  const plan = checkPublishPlan(
    {
      target: opts.target,
      version: opts.version,
      compatible: opts.compatible,
      ...(counter !== undefined ? { counter } : {}),
      ...(opts.expires !== undefined ? { expires: opts.expires } : {}),
      ...(notes !== undefined ? { notes } : {}),
      allowExpiryPastSigner: opts.allowExpiryPastSigner ?? false,
    },
    signer,
    new Date(),
  );
  return { notes, signer, plan };
}

async function sign(opts: ExportOpts, r: ExportResult, plan: SigningPlan, lock: MediaLock): Promise<PublishResult> {
  const notes = plan.notes;
  const counter = parseCounter(opts.counter);
  return publishUpdate({
    lock,
    replace: opts.replace ?? false,
    allowExpiryPastSigner: opts.allowExpiryPastSigner ?? false,
    mediaRoot: opts.media,
    target: opts.target,
    version: opts.version,
    manifest: r.manifest,
    platform: r.platform,
    payloadBytes: r.payloadBytes,
    chunkIndex: r.chunkIndex,
    ...(r.fileIndex ? { fileIndex: r.fileIndex } : {}),
    ...(r.source ? { source: r.source } : {}),
    ...(r.unpackedBytes !== undefined ? { unpackedBytes: r.unpackedBytes } : {}),
    signerDir: opts.signer!,
    signer: plan.signer,
    compatible: opts.compatible,
    ...(opts.replaces.length ? { replaces: opts.replaces } : {}),
    ...(counter !== undefined ? { counter } : {}),
    ...(opts.expires !== undefined ? { expires: opts.expires } : {}),
    ...(notes !== undefined ? { notes } : {}),
  });
}


/** Register `ferry export` on the program. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export an image onto the media (FERRY/oci), sharing blobs already there; with --signer, also write a signed update manifest')
    .requiredOption('--image <input>', 'oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], containers-storage:IMAGE (what podman build made), docker://HOST[:PORT]/REPO:TAG|@DIGEST (a registry) or rootfs:PATH (directory or tarball)')
    .requiredOption('--target <name>', 'target name, e.g. kiosk ([a-z0-9][a-z0-9._-]*)')
    .requiredOption('--version <semver>', 'image version, e.g. 2.3.1')
    .requiredOption('--media <dir>', 'the media root (a mounted stick or a folder); FERRY/ is created')
    .option('--authfile <file>', 'docker:// credentials from this auth.json (default: ${XDG_RUNTIME_DIR}/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json)')
    .option('--cert-dir <dir>', 'docker://: also trust the CA certificates (*.crt) in this folder')
    .option('--tls-verify <bool>', 'docker://: verify the registry\'s TLS certificate; false also allows plain HTTP', 'true')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform image (default linux/amd64)')
    .option('--compress <mode>', 'layer compression: keep, gzip, zstd or none', 'keep')
    .option('--verify-existing', 're-hash blobs already on the media instead of trusting name and size')
    .option('--chunk-cache <dir>', "this machine's cache of layer chunk digests, so layers already on the media are not re-read (default $FERRY_CACHE_DIR, else ~/.cache/ferry)")
    .option('--no-chunk-cache', 're-read every layer already on the media for its chunk digests')
    .option('--check-layers', 'also decode layers copied unchanged (--compress keep), in the same read: diff_id and tar structure')
    .option('--file-index', 'also put the image\'s file index (every file with metadata and SHA-256) on the media, pinned by the signed update (for inspect --diff and device drift); needs --signer')
    .option('--signer <dir>', 'sign an update manifest with key.pem + cert.pem (+ chain.pem) from this folder')
    .option('--compatible <string>', 'device compatible string allowed to install it (repeatable)', collect, [])
    .option('--replaces <target>', 'an earlier target name this one succeeds: devices following it may switch, keeping its anti-rollback floor (repeatable)', collect, [])
    .option('--counter <n>', 'release counter (anti-rollback); derived from the version when omitted')
    .option('--expires <date|days>', 'expiry of the update manifest: a date (2027-01-31), an RFC 3339 UTC time or a number of days (default 365)')
    .option('--notes <file>', 'release notes file (UTF-8, at most 64 KiB)')
    .option('--passphrase-env <VAR>', "the signer key's passphrase, from this environment variable")
    .option('--passphrase-file <FILE>', "the signer key's passphrase, from this file")
    .option('--allow-expiry-past-signer', "accept an --expires later than the end of the signer's certificate chain (warned; devices refuse the update from that end on)")
    .option('--replace', 'replace a different image already on the media under the same target and version, and its signed update manifest')
    .option('--create', 'create the --media folder when it does not exist (else a missing path is refused: a typo must not write elsewhere)')
    .option('--json', 'print the result as JSON')
    .option('--progress', 'print progress events as JSON lines on stderr')
    .action(
      action(async (opts: ExportOpts) => {
        if (!COMPRESS.includes(opts.compress as CompressChoice)) throw new FerryError('USAGE', `--compress must be one of ${COMPRESS.join(', ')}, not "${opts.compress}"`);
        checkTargetAndVersion(opts.target, opts.version);
        parseInputName(opts.image);
        const registry = registryOptionsOf(opts);
        const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        if (opts.fileIndex && !opts.signer) throw new FerryError('USAGE', '--file-index needs --signer: only a signed update manifest can pin the file index');
        if (opts.fileIndex) applyRuntimeFlags(); // the file index's entries: memory that grows with the image (src/node-flags.ts)
        warmChunkHasher(); // the copy's hashing thread (chunk digests, a download's digests) starts while the key is checked
        const signing = await checkSigning(opts);
        const progress = cliProgress(opts);
        const epoch = process.env.SOURCE_DATE_EPOCH;
        if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new FerryError('USAGE', `SOURCE_DATE_EPOCH "${epoch}" is not a number of seconds`);
        const { r, signed } = await hqWrite(opts.media, `export ${refName(opts.target, opts.version)}`, opts, async (lock) => {
          const r = await exportImage({
            image: opts.image,
            target: opts.target,
            version: opts.version,
            mediaRoot: opts.media,
            lock,
            replace: opts.replace ?? false,
            // the chunk index is named only by the signed update manifest: none without --signer
            chunkIndex: signing !== undefined,
            fileIndex: opts.fileIndex === true,
            // the signed update manifest and its signature, each through a temp file
            ...(signing ? { alsoWrites: [{ what: 'update manifest', size: 2 * 8192 }, { what: 'signature', size: 2 * 16384 }] } : {}),
            compress: opts.compress as CompressChoice,
            verifyExisting: opts.verifyExisting ?? false,
            ...(opts.chunkCache !== false ? { chunkCache: openChunkCache(opts.chunkCache ?? defaultChunkCacheDir()) } : {}),
            checkLayers: opts.checkLayers ?? false,
            ...(platform ? { platform } : {}),
            registry,
            ...(progress ? { progress } : {}),
            ...(epoch !== undefined ? { sourceDateEpoch: Number(epoch) } : {}),
          });
          try {
            return { r, signed: signing !== undefined ? await sign(opts, r, signing, lock) : undefined };
          } catch (e) {
            await undoExport(opts.media, r, lock).catch(() => undefined);
            throw e;
          }
        });
        printExport(opts, r, signed, [...r.warnings, ...(signed?.warnings ?? [])]);
      }),
    );
}

function printExport(opts: ExportOpts, r: ExportResult, signed: PublishResult | undefined, warnings: string[]): void {
  if (opts.json) {
    const update = signed ? { manifestPath: signed.manifestPath, signaturePath: signed.signaturePath, kept: signed.kept, lastAccepted: signed.lastAccepted } : null;
    const { previous: _previous, ...rest } = r;
    printJson({ ok: true, ...rest, warnings, update });
    return;
  }
  printNotes(...r.warnings.concat(signed?.warnings ?? []).map((w) => `ferry: ${w.startsWith('WARNING') ? w : `warning: ${w}`}`));
  const head = r.unchanged
    ? `${r.ref} is already on ${opts.media}/FERRY/oci with the same content (manifest ${r.manifest.digest}): nothing changed`
    : `exported ${r.ref} (${formatPlatform(r.platform)}) to ${opts.media}/FERRY/oci: manifest ${r.manifest.digest}${r.replaced ? ` (replaced ${r.replaced})` : ''}`;
  const update = !signed
    ? r.unchanged
      ? '  no --signer: its update manifest and signatures, if any, are unchanged'
      : '  no update manifest written (no --signer): devices will not install this image until it is signed'
    : signed.kept
      ? `  signed update manifest kept with its signatures: ${signed.manifestPath} (pass --replace to re-sign)`
      : `  signed update manifest: ${signed.manifestPath}; devices accept it until ${signed.lastAccepted}`;
  const fetched = r.bytesFetched !== undefined ? `; fetched ${r.bytesFetched} bytes from the registry` : '';
  printLines(head, `  payload ${r.payloadBytes} bytes; wrote ${r.blobsWritten} blob(s) (${r.bytesWritten} bytes), ${r.blobsSkipped} already present (${r.bytesSkipped} bytes)${fetched}`, update);
}
