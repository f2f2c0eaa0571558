/**
 * The `bootc` slot: image-mode hosts, where bootc owns the A/B deployments. ferry
 * copies the verified blobs into a local OCI layout under the state directory first
 * (the stick can be pulled, nobody can swap it between verification and use, and
 * bootc never points at a USB path), runs `bootc switch --transport oci`, and checks
 * that `bootc status --json` staged exactly the signed manifest digest.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../../errors.js';
import { LayoutWriter } from '../../oci/blob-store.js';
import { Annotation, digestHex, MediaType } from '../../oci/types.js';
import type { ProgressFn } from '../../progress.js';
import { writeFileAtomic } from '../../util/fsx.js';
import { runCommand } from '../bootloaders/common.js';
import { type ImageSize, payloadNeed, type Slot, type SlotName, type SlotWriteRequest, type SlotWriteResult, type SpaceNeed } from '../types.js';
import { SlotParams } from './params.js';

const STATUS_CAP = 4 * 1024 * 1024;

/** A bootc slot's parameters (DESIGN.md section 4). */
export interface BootcSlotConfig {
  bootcPath: string;
}

/** Validate a bootc slot's config; CONFIG_INVALID lists every problem. */
export function parseBootcSlotConfig(name: SlotName, config: unknown): BootcSlotConfig {
  const p = new SlotParams(name, 'bootc', config, ['bootcPath']);
  const bootcPath = p.program('bootcPath', 'bootc');
  p.check();
  return { bootcPath };
}

/** The digest bootc reports as staged (`status.staged.image.imageDigest`), or undefined. */
export function stagedDigest(status: unknown): string | undefined {
  const d = (status as { status?: { staged?: { image?: { imageDigest?: unknown } } | null } } | null)?.status?.staged?.image?.imageDigest;
  return typeof d === 'string' ? d : undefined;
}

async function bootc(file: string, args: string[], slot: SlotName): Promise<string> {
  let r;
  try {
    r = await runCommand(file, args, { cap: STATUS_CAP });
  } catch (e) {
    throw new FerryError('BOOTC_FAILED', `cannot run ${file}: ${(e as Error).message}; install bootc or fix slots.${slot}.bootcPath`, { cause: e });
  }
  if (r.code !== 0) {
    const msg = r.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${r.code ?? r.signal}`;
    throw new FerryError('BOOTC_FAILED', `${file} ${args.join(' ')} failed: ${msg}`, { details: { stderr: r.stderr.slice(-4096), code: r.code } });
  }
  return r.stdout;
}

class BootcSlot implements Slot {
  readonly type = 'bootc';
  private readonly layoutDir: string;
  constructor(
    readonly name: SlotName,
    private readonly cfg: BootcSlotConfig,
    stateDir: string,
  ) {
    this.layoutDir = path.join(stateDir, 'bootc', 'oci');
  }

  describe(): string {
    return `bootc (${this.cfg.bootcPath}, staging layout ${this.layoutDir})`;
  }

  /** bootc is handed the blobs as they are: the compressed payload. */
  requiredBytes(image: ImageSize): SpaceNeed {
    return payloadNeed(image);
  }

  /** Free space where the local layout is written (bootc's own storage is not known to ferry). */
  async availableBytes(): Promise<number | undefined> {
    for (let d = this.layoutDir; ; d = path.dirname(d)) {
      try {
        const s = await fsp.statfs(d);
        return s.bavail * s.bsize;
      } catch {
        if (d === '/') return undefined;
      }
    }
  }

  async write(req: SlotWriteRequest): Promise<SlotWriteResult> {
    try {
      const copied = await this.copyImage(req);
      const target = `${this.layoutDir}:${req.ref}`;
      if (req.signal?.aborted) throw new FerryError('CANCELLED', 'cancelled before bootc switch');
      await bootc(this.cfg.bootcPath, ['switch', '--transport', 'oci', target], this.name);
      const text = await bootc(this.cfg.bootcPath, ['status', '--json'], this.name);
      let status: unknown;
      try {
        status = JSON.parse(text);
      } catch (e) {
        throw new FerryError('BOOTC_FAILED', `bootc status --json printed something that is not JSON (${(e as Error).message})`, { cause: e });
      }
      const expected = req.image.manifestDescriptor.digest;
      const staged = stagedDigest(status);
      if (staged !== expected) {
        throw new FerryError('BOOTC_FAILED', `bootc staged ${staged ?? 'nothing'} but the signed image is ${expected}; nothing will boot from it: run bootc status and try again`, {
          details: { expected, staged },
        });
      }
      return { bytesRead: copied.read, bytesWritten: copied.written, details: { stagedDigest: staged, layout: this.layoutDir, target } };
    } catch (e) {
      throw toFerryError(e);
    }
  }

  /**
   * Copy manifest, config and layers into the local layout (each blob verified while it
   * streams, temp + fsync + rename; blobs already there are skipped), then make the
   * index name only this image and drop blobs no longer referenced.
   */
  private async copyImage(req: SlotWriteRequest): Promise<{ read: number; written: number }> {
    const { image } = req;
    const writer = await LayoutWriter.create(this.layoutDir);
    const blobs = [image.configDescriptor, ...image.manifest.layers, image.manifestDescriptor];
    const total = blobs.reduce((s, b) => s + b.size, 0);
    let base = 0;
    let read = 0;
    let written = 0;
    req.progress({ step: 'write', bytesDone: 0, bytesTotal: total });
    for (const desc of blobs) {
      if (req.signal?.aborted) throw new FerryError('CANCELLED', 'cancelled while copying the image');
      const progress: ProgressFn = (e) => req.progress({ step: 'write', bytesDone: base + e.bytesDone, bytesTotal: total, detail: desc.digest });
      const r = await writer.writeBlob(desc, () => (req.openBlob ? req.openBlob(desc, `blob ${desc.digest}`) : req.layout.openBlob(desc)), { progress });
      if (r.written) {
        read += desc.size;
        written += desc.size;
      }
      base += desc.size;
      req.progress({ step: 'write', bytesDone: base, bytesTotal: total, detail: desc.digest });
    }
    const entry = { mediaType: image.manifestDescriptor.mediaType || MediaType.imageManifest, digest: image.manifestDescriptor.digest, size: image.manifestDescriptor.size, annotations: { [Annotation.refName]: req.ref } };
    await writeFileAtomic(path.join(this.layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [entry] }, null, 2) + '\n');
    const keep = new Set(blobs.map((b) => digestHex(b.digest)));
    const dir = path.join(this.layoutDir, 'blobs', 'sha256');
    for (const name of await fsp.readdir(dir)) if (!keep.has(name)) await fsp.rm(path.join(dir, name), { force: true });
    return { read, written };
  }
}

/** The factory registered as `bootc`. */
export function createBootcSlot(name: SlotName, config: unknown, ctx: { stateDir: string }): Slot {
  return new BootcSlot(name, parseBootcSlotConfig(name, config), ctx.stateDir);
}
