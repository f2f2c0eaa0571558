/** `ferry archive` / `ferry unarchive`: the single-file (oci-archive) form of the media. */
import type { Command } from 'commander';
import { archiveMedia, unarchiveMedia } from '../../media/archive.js';
import { hqWrite } from '../cancel.js';
import { action, cliProgress, printJson, printLines } from '../run.js';

/** Register `ferry archive` and `ferry unarchive` on the program. */
export function registerArchive(program: Command): void {
  program
    .command('archive')
    .description('write FERRY/ of the media as one oci-archive tar (layout at the tar root; skopeo reads it as oci-archive:FILE:REF)')
    .requiredOption('--media <dir>', 'the media root (the folder that holds FERRY/)')
    .requiredOption('--out <file.tar>', 'the archive to write (replaced atomically)')
    .option('--json', 'print JSON')
    .option('--progress', 'print progress events as JSON lines on stderr')
    .action(
      action(async (opts: { media: string; out: string; json?: boolean; progress?: boolean }) => {
        const progress = cliProgress(opts);
        const r = await archiveMedia({ mediaRoot: opts.media, outFile: opts.out, ...(progress ? { progress } : {}) });
        if (opts.json) printJson({ ok: true, out: opts.out, ...r });
        else printLines(`wrote ${opts.out}: ${r.blobs} blobs, ${r.bytes} bytes`);
      }),
    );
  program
    .command('unarchive')
    .description('read an archive made by ferry archive (or any oci-archive) onto the media, checking every blob')
    .requiredOption('--in <file.tar>', 'the archive to read')
    .requiredOption('--media <dir>', 'the media root to write (FERRY/ is created in it)')
    .option('--replace', 'replace images already on the media under the same ref with different content, and their signed update manifests')
    .option('--create', 'create the --media folder when it does not exist')
    .option('--json', 'print JSON')
    .option('--progress', 'print progress events as JSON lines on stderr')
    .action(
      action(async (opts: { in: string; media: string; replace?: boolean; create?: boolean; json?: boolean; progress?: boolean }) => {
        const progress = cliProgress(opts);
        const r = await hqWrite(opts.media, `unarchive ${opts.in}`, opts, (lock) => unarchiveMedia({ inFile: opts.in, mediaRoot: opts.media, lock, replace: opts.replace ?? false, ...(progress ? { progress } : {}) }));
        if (opts.json) printJson({ ok: true, ...r });
        else {
          const extra = [r.replaced.length ? `; replaced ${r.replaced.join(', ')}` : '', r.kept.length ? `; kept the update manifests already on the media (with their signatures): ${r.kept.join(', ')}` : ''].join('');
          printLines(`unarchived ${r.images} image(s): ${r.blobsWritten} blobs written, ${r.blobsSkipped} already present, ${r.files} update/trust files${extra}`);
        }
      }),
    );
}
