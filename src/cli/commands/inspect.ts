/** `ferry inspect`: list the images on the media with their sizes and sharing. */
import type { Command } from 'commander';
import { ERROR_CODES } from '../../errors.js';
import { inspectMedia } from '../../media/inspect.js';
import { action, printJson, printLines } from '../run.js';

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Register `ferry inspect` on the program. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show the images on the media: refs, versions, platforms, layers, sizes and shared bytes')
    .requiredOption('--media <dir>', 'the media: the folder that holds FERRY/, or an archive written by ferry archive (read in place)')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { media: string; json?: boolean }) => {
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
        printLines(...out);
        return damaged ? ERROR_CODES.MEDIA_DAMAGED : 0;
      }),
    );
}
