/** `ferry inspect`: list the images on the media with their sizes and sharing. */
import type { Command } from 'commander';
import { ERROR_CODES, FerryError } from '../../errors.js';
import { diffUpdates, type FileDiff } from '../../media/inspect-diff.js';
import { inspectMedia } from '../../media/inspect.js';
import type { UpdateSummary } from '../../media/inspect-updates.js';
import { action, printJson, printLines } from '../run.js';

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function day(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

function validity(from: string, to: string, now: Date): string {
  const state = Date.parse(to) < now.getTime() ? 'EXPIRED' : Date.parse(from) > now.getTime() ? 'NOT YET VALID' : 'valid';
  return `${state} ${day(from)} – ${day(to)}`;
}

/** The lines of one signed update: target, source, expiry, each signer with its chain. */
function describeUpdate(u: UpdateSummary, now: Date): string[] {
  if (u.problem !== undefined) return [`update ${u.id}: PROBLEM: ${u.problem}`];
  const out = [`update ${u.id}: version ${u.version}, counter ${u.counter}, compatible ${u.compatible?.join(', ')}`];
  const src = u.source;
  const from = src?.manifest ? `converted from ${src.manifest}` : src?.imageId ? `docker image ID ${src.imageId}` : undefined;
  out.push(`  image ${u.image}${src ? ` (${from}, ${src.transport}: ${src.conversion})` : ''}`);
  const expired = u.expires !== undefined && Date.parse(u.expires) < now.getTime() ? ' EXPIRED' : '';
  out.push(`  created ${u.created}, expires ${u.expires}${expired}; devices accept it until ${day(u.lastAccepted ?? '')} (the earlier of expiry and signer chains)`);
  for (const s of u.signers) {
    out.push(`  signed by ${s.subject} at ${day(s.signingTime)}; chain to root "${s.root}" ${s.validNow ? 'valid now' : 'NOT VALID NOW'}, ends ${day(s.chainEnd)}`);
    for (const c of s.chain) out.push(`    ${c.subject} (issued by ${c.issuer}): ${validity(c.notBefore, c.notAfter, now)}`);
  }
  if (u.signers.length === 0) out.push('  no signatures');
  return out;
}

/** The lines of a file diff between two updates. */
function describeDiff(d: FileDiff): string[] {
  const size = (s?: { type: string; size: number }) => (s === undefined ? '' : s.type === 'file' ? human(s.size) : s.type);
  return [
    `${d.from} -> ${d.to}: ${d.added.length} added (${human(d.bytes.added)}), ${d.removed.length} removed (${human(d.bytes.removed)}), ${d.changed.length} changed (${human(d.bytes.changed)} in their new version), ${d.unchanged} unchanged`,
    ...d.added.map((e) => `+ ${e.path}  ${size(e.to)}`),
    ...d.removed.map((e) => `- ${e.path}  ${size(e.from)}`),
    ...d.changed.map((e) => `M ${e.path}  ${size(e.from)} -> ${size(e.to)}  (${e.changes!.join(', ')})`),
  ];
}

/** Register `ferry inspect` on the program. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show the images on the media (refs, versions, platforms, layers, sizes, shared bytes) and each signed update (compatible strings, expiry, source digest, signers and their chain validity)')
    .requiredOption('--media <dir>', 'the media: the folder that holds FERRY/, or an archive written by ferry archive (read in place)')
    .option('--json', 'print JSON')
    .option('--diff <updates...>', 'two update ids (e.g. kiosk-1.0.0 kiosk-1.1.0): list the files added, removed and changed between them, from their file indexes (export --file-index)')
    .action(
      action(async (opts: { media: string; json?: boolean; diff?: string[] }) => {
        if (opts.diff !== undefined) {
          if (opts.diff.length !== 2) throw new FerryError('USAGE', `--diff takes two update ids (from, to), not ${opts.diff.length}`);
          const d = await diffUpdates(opts.media, opts.diff[0]!, opts.diff[1]!);
          if (opts.json) printJson({ ok: true, diff: d });
          else printLines(...describeDiff(d));
          return 0;
        }
        const s = await inspectMedia(opts.media);
        // a damaged image is listed, not hidden; the exit code says the media needs attention
        const damaged = s.images.some((i) => i.problem !== undefined);
        if (opts.json) {
          printJson({ ok: !damaged, ...s });
          return damaged ? ERROR_CODES.MEDIA_DAMAGED : 0;
        }
        const out = [`media ${s.mediaRoot}: ${s.images.length} image(s)`];
        for (const i of s.images) {
          if (i.problem) {
            out.push(`  ${i.ref.padEnd(28)} DAMAGED: ${i.problem} (run ferry verify)`);
            continue;
          }
          out.push(`  ${i.ref.padEnd(28)} ${String(i.version ?? '-').padEnd(10)} ${i.platform.padEnd(12)} ${String(i.layers).padStart(3)} layer(s)  ${human(i.payloadBytes).padStart(10)}  (shared ${human(i.sharedBytes)})  ${i.digest.slice(0, 19)}`);
        }
        out.push(`total ${human(s.totalBytes)} in ${s.blobs} blobs; ${human(s.sharedBytes)} stored once for several images`);
        out.push(s.updates.length ? `update manifests: ${s.updates.join(', ')}` : 'update manifests: none (images are not signed)');
        for (const u of s.signedUpdates) out.push(...describeUpdate(u, new Date()));
        if (s.signedUpdates.length) out.push('signers are shown as the signatures embed them, not checked against a root: run ferry verify --trust <dir>');
        printLines(...out);
        return damaged ? ERROR_CODES.MEDIA_DAMAGED : 0;
      }),
    );
}
