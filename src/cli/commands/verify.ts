/** `ferry verify`: re-hash every blob the media's images reference; list every damaged one, and every check that was not made. */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { reportError as blobReportError, type MediaBlobReport, verifyMediaBlobs } from '../../media/verify.js';
import { lastAccepted, trustNotices, updateFileNotices, type VerifyNotice } from '../../media/verify-report.js';
import type { MediaUpdateResult } from '../../media/verify-updates.js';
import type { TrustMaterial } from '../../trust/types.js';
import { action, cliProgress, printJson, printLines, printNotes } from '../run.js';

interface VerifyOpts {
  media: string;
  trust?: string;
  compatible?: string;
  requiredSigners?: string;
  json?: boolean;
  progress?: boolean;
}

function requiredSigners(opts: VerifyOpts): number {
  if (opts.trust === undefined) {
    // an option that would be ignored is refused: a reader of the command line must not believe it was applied
    if (opts.requiredSigners !== undefined || opts.compatible !== undefined) throw new FerryError('USAGE', '--required-signers and --compatible only apply with --trust <dir>: add --trust, or drop them');
    return 1;
  }
  const required = opts.requiredSigners === undefined ? 1 : Number(opts.requiredSigners);
  if (!Number.isInteger(required) || required < 1) throw new FerryError('USAGE', `--required-signers must be a whole number ≥ 1, not "${opts.requiredSigners}"`);
  return required;
}

/**
 * The signature side of verify, loaded only with --trust: its X.509 and CMS code costs every
 * plain `ferry verify --media` ~20 ms of start-up before the first blob is read.
 */
async function trustKit() {
  const [load, updates] = await Promise.all([import('../../trust/load.js'), import('../../media/verify-updates.js')]);
  return { loadTrustMaterial: load.loadTrustMaterial, verifyMediaUpdates: updates.verifyMediaUpdates, firstRefusal: updates.firstRefusal, formatUpdateResult: updates.formatUpdateResult };
}
type TrustKit = Awaited<ReturnType<typeof trustKit>>;

/**
 * With --trust: check every update's signature, chain and expiry (no blob I/O), then
 * re-hash every blob once; an update whose image has a damaged blob is refused too.
 */
async function verifyUpdates(opts: VerifyOpts, kit: TrustKit | undefined, trust: TrustMaterial | undefined, required: number, blobs: MediaBlobReport): Promise<MediaUpdateResult[]> {
  if (kit === undefined || trust === undefined) return [];
  const policy = { requiredSigners: required, ...(opts.compatible ? { compatible: opts.compatible } : {}) };
  const results = await kit.verifyMediaUpdates(opts.media, trust, policy, new Date(), { checkBlobs: false });
  return results.map((r) => {
    const damaged = r.ok && r.manifest ? blobs.problems.find((p) => p.refs.includes(r.manifest!.image.ref)) : undefined;
    return damaged ? { ...r, ok: false, code: damaged.kind === 'digest-mismatch' ? 'DIGEST_MISMATCH' : 'MEDIA_DAMAGED', message: `blob ${damaged.digest} is damaged or missing: ${damaged.message}` } : r;
  });
}

/** The first error among blobs, updates and update files (its exit code is verify's). */
function firstError(report: MediaBlobReport, kit: TrustKit | undefined, updates: MediaUpdateResult[], notices: VerifyNotice[]): FerryError | undefined {
  const orphan = notices.find((n) => n.level === 'error');
  return blobReportError(report) ?? kit?.firstRefusal(updates) ?? (orphan ? new FerryError('MEDIA_INCOMPLETE', orphan.message) : undefined);
}

/** Register `ferry verify` on the program. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('re-read every blob of every image on the media and check its digest and size; with --trust, also check every signed update manifest (signature, chain, expiry); lists every problem and every check not made')
    .requiredOption('--media <dir>', 'the media: the folder that holds FERRY/, or an archive written by ferry archive (read in place)')
    .option('--trust <dir>', 'trust folder with roots/*.pem (and optional cross/*.pem, crl.pem): also verify FERRY/updates signatures')
    .option('--compatible <string>', 'with --trust: also require updates to list this device compatible string')
    .option('--required-signers <n>', 'with --trust: distinct trusted signers each update needs (m-of-n; default 1)')
    .option('--json', 'print the report as JSON')
    .option('--progress', 'print progress events as JSON lines on stderr')
    .action(
      action(async (opts: VerifyOpts) => {
        const required = requiredSigners(opts);
        // a wrong --trust is an option error: found before any blob is read
        const kit = opts.trust !== undefined ? await trustKit() : undefined;
        const trust = kit && opts.trust !== undefined ? await kit.loadTrustMaterial(opts.trust) : undefined;
        const progress = cliProgress(opts);
        const report = await verifyMediaBlobs(opts.media, progress ? { progress } : {});
        const updates = await verifyUpdates(opts, kit, trust, required, report);
        const notices = [...(await updateFileNotices(opts.media, kit !== undefined, { sync: true })), ...(kit ? await trustNotices(opts.media, updates) : [])];
        const err = firstError(report, kit, updates, notices);
        if (opts.json) {
          const trust = opts.trust ? { updates: updates.map((u) => jsonUpdate(u, required)) } : { signaturesChecked: false };
          printJson({ ...report, ok: err === undefined, ...trust, notices, ...(err ? { error: { code: err.code, message: err.message } } : {}) });
          return err?.exitCode ?? 0;
        }
        printNotes(...report.problems.map((p) => `ferry: ${p.kind}: ${p.digest} (needed by ${p.refs.join(', ')}): ${p.message}`));
        if (kit) printLines(...updates.map((u) => kit.formatUpdateResult(u) + (u.ok ? `; devices accept it until ${lastAccepted(u, required)}` : '')));
        if (opts.trust !== undefined && updates.length === 0) printLines('no signed updates on the media (FERRY/updates is empty)');
        printNotes(...notices.filter((n) => n.level === 'error').map((n) => `ferry: error: ${n.message}`));
        printLines(...notices.filter((n) => n.level !== 'error').map((n) => `note: ${n.message}`));
        if (err) throw err;
        const what = opts.trust !== undefined ? `${updates.length} signed update(s) checked` : 'signatures not checked (no --trust)';
        printLines(`ok: ${report.images.length} image(s), ${report.blobsChecked} blobs, ${report.bytesChecked} bytes verified; ${what}`);
        return 0;
      }),
    );
}

/** An update result for --json, without the bulky verifier internals, with the last day a device accepts it. */
function jsonUpdate(r: MediaUpdateResult, required: number): Record<string, unknown> {
  const { verified: _verified, ...rest } = r;
  return r.ok ? { ...rest, lastAccepted: lastAccepted(r, required) } : rest;
}
