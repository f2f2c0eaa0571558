/**
 * The comparisons the bench runs for one input size: export, incremental export,
 * verify and apply (the apply rows: ops-apply.ts), each ferry against its peers on the same bytes.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FerryCli } from './ferry.js';
import { treeBytes, treeFiles, type Comparison, type Contender } from './harness.js';
import type { SizeInputs } from './inputs.js';
import { runChecked } from './proc.js';
import { fmtBytes, type Outcome } from './report.js';
import { BENCH_TARGET, type FerrySteps } from './ferry-steps.js';
import { freshFsBytes } from './fresh-fs.js';

/** Peak RSS target for every ferry operation. */
export const RSS_TARGET_MIB = 200;

/** Which peers can run here, with the reason for those that cannot. */
export type PeerStatus = Record<'skopeo' | 'umoci' | 'rauc' | 'mksquashfs' | 'sha256sum' | 'tar', string | undefined>;

/** Everything the comparisons for one size need. */
export interface OpsContext {
  inputs: SizeInputs;
  scratch: string;
  /** A ferry signer folder (bench root + signer): export rows sign, so they pay for the chunk index the device verifies against. */
  signer?: string;
  cli: FerryCli;
  steps: FerrySteps;
  peers: PeerStatus;
}

/** Empty `dir` (made if missing). */
export const reset = async (dir: string) => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
};

/** A ferry side that runs `argv` after `prepare`, or "not run" with the CLI's reason. */
export function ferrySide(why: string | undefined, name: string, argv: () => string[], extra: Partial<Contender> = {}): Contender {
  return why === undefined ? { name, argv, ...extra } : { name, notRun: why, argv: () => [] };
}

function onStick(ferry: Outcome, peer: Outcome, peerName: string): string {
  const parts: string[] = [];
  if (ferry.kind === 'measured' && ferry.bytesWritten !== undefined) parts.push(`ferry ${fmtBytes(ferry.bytesWritten)}`);
  if (peer.kind === 'measured' && peer.bytesWritten !== undefined) parts.push(`${peerName.replace(/ \(.*$/, '')} ${fmtBytes(peer.bytesWritten)}`);
  return parts.length > 0 ? `written: ${parts.join('; ')}` : '';
}

/** Throw unless ferry's stick holds every layer blob (right size) and skopeo can read the image from it. */
async function checkStick(stick: string, layers: readonly { digest: string; size: number }[], ref: string): Promise<void> {
  for (const l of layers) {
    const file = join(stick, 'FERRY', 'oci', 'blobs', 'sha256', l.digest.slice('sha256:'.length));
    const st = await stat(file).catch(() => undefined);
    if (st?.size !== l.size) throw new Error(`layer ${l.digest} missing or of the wrong size on the stick`);
  }
  await runChecked('skopeo', ['inspect', `oci:${join(stick, 'FERRY', 'oci')}:${ref}`]);
}

/** The signer and the chunk cache folder (in `side`, the folder the side writes into) for a signed export. */
function signed(ctx: OpsContext, side: string): { signer?: string; cache: string } {
  return { ...(ctx.signer !== undefined ? { signer: ctx.signer } : {}), cache: join(side, 'chunk-cache') };
}

/**
 * The folder one side of a write row writes into: a fresh ext4 per sample when the bench can
 * make one (bench/fresh-fs.ts, the harness mounts it), else a plain folder in the scratch dir.
 */
export function sideDir(ctx: OpsContext, row: string, side: string): string {
  return join(ctx.scratch, 'fresh', `${row}-${side}`);
}

/** The stick the export row's ferry side writes (the profile reuses it). */
export function exportStick(ctx: OpsContext): string {
  return join(sideDir(ctx, 'export', 'ferry'), 'stick');
}

/** Export from oci-archive onto media vs `skopeo copy` and vs `rauc bundle`. */
export function exportComparison(ctx: OpsContext): Comparison {
  const { inputs, steps, peers } = ctx;
  const ferryDir = sideDir(ctx, 'export', 'ferry');
  const stick = exportStick(ctx);
  const skopeoDir = sideDir(ctx, 'export', 'skopeo');
  const skopeoOut = join(skopeoDir, 'layout');
  const skopeoSyncDir = sideDir(ctx, 'export', 'skopeo-sync');
  const skopeoSyncOut = join(skopeoSyncDir, 'layout');
  const raucDir = sideDir(ctx, 'export', 'rauc');
  const bundle = join(raucDir, 'bundle.raucb');
  return {
    op: 'export (oci-archive → media)',
    size: inputs.sizeLabel,
    inputBytes: inputs.image.v1.payloadBytes,
    ferry: ferrySide(steps.exportWhy, 'ferry export', () => steps.exportArgv(inputs.archive.v1, stick, '1.0.0', signed(ctx, ferryDir)), {
      freshFs: ferryDir,
      prepare: async () => {
        await reset(stick);
        await rm(signed(ctx, ferryDir).cache, { recursive: true, force: true });
      },
      bytesWritten: () => treeBytes(stick),
    }),
    peers: [
      {
        contender: { name: 'skopeo copy', notRun: peers.skopeo, freshFs: skopeoDir, prepare: () => rm(skopeoOut, { recursive: true, force: true }),
          argv: () => ['skopeo', 'copy', '--quiet', `oci-archive:${inputs.archive.v1}:1.0.0`, `oci:${skopeoOut}:1.0.0`],
          bytesWritten: () => treeBytes(skopeoOut) },
        target: { maxRatio: 0.6, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        // ferry fsyncs every blob before naming it (crash safety); skopeo leaves dirty pages: this side fsyncs its files too
        contender: { name: 'skopeo copy + sync', notRun: peers.skopeo, freshFs: skopeoSyncDir, prepare: () => rm(skopeoSyncOut, { recursive: true, force: true }),
          argv: () => ['sh', '-c', 'skopeo copy --quiet "$1" "$2" && find "$0" -type f -exec sync -- {} +', skopeoSyncOut, `oci-archive:${inputs.archive.v1}:1.0.0`, `oci:${skopeoSyncOut}:1.0.0`],
          bytesWritten: () => treeBytes(skopeoSyncOut) },
        target: { maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'rauc bundle (plain, squashfs)', notRun: peers.rauc ?? peers.mksquashfs, freshFs: raucDir, prepare: () => rm(bundle, { force: true }),
          argv: () => ['rauc', 'bundle', '--cert', inputs.rauc.cert, '--key', inputs.rauc.key, inputs.rauc.content, bundle],
          bytesWritten: async () => (await stat(bundle)).size },
        target: { maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: onStick,
    // skopeo unpacks the archive into TMPDIR (on its fresh file system) beside the layout it writes
    freshFsBytes: freshFsBytes(Math.max(2 * inputs.image.v1.payloadBytes, inputs.rauc.payloadBytes)),
    ...(peers.skopeo === undefined ? { check: () => checkStick(stick, inputs.image.v1.layers, `${BENCH_TARGET}-1.0.0`) } : {}),
  };
}

/** Export 1.1.0 onto a stick that holds 1.0.0 vs a full export, and vs skopeo doing the same. */
export function incrementalComparison(ctx: OpsContext): Comparison {
  const { inputs, steps, peers } = ctx;
  const ferryDir = sideDir(ctx, 'incremental', 'ferry');
  const stick = join(ferryDir, 'stick');
  const fullDir = sideDir(ctx, 'incremental', 'ferry-full');
  const full = join(fullDir, 'stick');
  const skopeoDir = sideDir(ctx, 'incremental', 'skopeo');
  const skopeoOut = join(skopeoDir, 'layout');
  let before = 0;
  let skopeoBefore = 0;
  return {
    op: 'incremental export 1.0.0 → 1.1.0',
    size: inputs.sizeLabel,
    inputBytes: inputs.image.v2.payloadBytes,
    // the prepares write 1.0.0 onto the side's (fresh) file system; the harness syncs it before the
    // clock starts and leaves its pages cached, alike for ferry's stick and skopeo's layout
    ferry: ferrySide(steps.exportWhy, 'ferry export (stick holds 1.0.0)', () => steps.exportArgv(inputs.archive.v2, stick, '1.1.0', signed(ctx, ferryDir)), {
      freshFs: ferryDir,
      prepare: async () => {
        await reset(stick);
        // the chunk cache holds only what exporting 1.0.0 onto this stick put there
        await rm(signed(ctx, ferryDir).cache, { recursive: true, force: true });
        const [cmd, ...args] = steps.exportArgv(inputs.archive.v1, stick, '1.0.0', signed(ctx, ferryDir));
        await runChecked(cmd as string, args);
        before = await treeBytes(stick);
      },
      bytesWritten: async () => (await treeBytes(stick)) - before,
    }),
    peers: [
      {
        contender: ferrySide(steps.exportWhy, 'ferry full export of 1.1.0', () => steps.exportArgv(inputs.archive.v2, full, '1.1.0', signed(ctx, fullDir)), {
          freshFs: fullDir,
          prepare: async () => {
            await reset(full);
            await rm(signed(ctx, fullDir).cache, { recursive: true, force: true });
          },
          bytesWritten: () => treeBytes(full),
        }),
        target: { maxRatio: 1.0, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'skopeo copy (layout holds 1.0.0)', notRun: peers.skopeo, freshFs: skopeoDir,
          prepare: async () => {
            await rm(skopeoOut, { recursive: true, force: true });
            await runChecked('skopeo', ['copy', '--quiet', `oci-archive:${inputs.archive.v1}:1.0.0`, `oci:${skopeoOut}:1.0.0`]);
            skopeoBefore = await treeBytes(skopeoOut);
          },
          argv: () => ['skopeo', 'copy', '--quiet', `oci-archive:${inputs.archive.v2}:1.1.0`, `oci:${skopeoOut}:1.1.0`],
          bytesWritten: async () => (await treeBytes(skopeoOut)) - skopeoBefore },
        target: { maxRatio: 0.6, maxRssMiB: RSS_TARGET_MIB },
      },
    ],
    notes: onStick,
    // skopeo's layout: 1.0.0, the blobs 1.1.0 adds, and 1.1.0's archive unpacked into TMPDIR
    freshFsBytes: freshFsBytes(inputs.image.v1.payloadBytes + 2 * inputs.image.v2.payloadBytes),
    ...(peers.skopeo === undefined ? { check: () => checkStick(stick, inputs.image.v2.layers, `${BENCH_TARGET}-1.1.0`) } : {}),
  };
}

/** `ferry verify --media` vs sha256sum over the same blob files, and vs `rauc info`. */
export function verifyComparison(ctx: OpsContext, stick: string | undefined, blobDir: string, bundle: string | undefined): Comparison {
  const { inputs, steps, peers } = ctx;
  let blobs: string[] = [];
  return {
    op: 'verify media',
    size: inputs.sizeLabel,
    inputBytes: inputs.image.v1.payloadBytes,
    ferry: ferrySide(stick === undefined ? (steps.exportWhy ?? 'no stick') : steps.verifyWhy, 'ferry verify --media', () => steps.verifyArgv(stick as string)),
    peers: [
      {
        // the hashing limit: OpenSSL's SHA-256 (SHA-NI where the CPU has it) over the same files, one after the other
        contender: { name: 'openssl dgst -sha256 (same blobs)',
          prepare: async () => { blobs = await treeFiles(blobDir); },
          argv: () => ['openssl', 'dgst', '-sha256', ...blobs] },
        target: { maxRatio: 1.2, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'sha256sum (same blobs)', notRun: peers.sha256sum,
          prepare: async () => { blobs = await treeFiles(blobDir); },
          argv: () => ['sha256sum', ...blobs] },
        target: { maxRatio: 1.15, maxRssMiB: RSS_TARGET_MIB },
      },
      {
        contender: { name: 'rauc info (signature + bundle hash)', notRun: bundle === undefined ? 'no bundle (rauc bundle did not run)' : peers.rauc,
          argv: () => ['rauc', 'info', '--keyring', inputs.rauc.cert, bundle as string] },
        target: { maxRssMiB: RSS_TARGET_MIB },
      },
    ],
  };
}
