/** `ferry push`: seed a site registry from a stick (each blob verified as it is read), with the signed updates attached to their images. */
import type { Command } from 'commander';
import { pushMedia } from '../../media/push.js';
import { loadTrustMaterial } from '../../trust/load.js';
import { addRegistryFlags, type RegistryFlags, registryOptionsOf } from '../registry-options.js';
import { action, printJson, printLines } from '../run.js';

interface PushOpts extends RegistryFlags {
  media: string;
  to: string;
  update: string[];
  trust?: string;
  json?: boolean;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Register `ferry push` on the program. */
export function registerPush(program: Command): void {
  const push = program
    .command('push')
    .description('push each signed update\'s image to a registry as PREFIX/<target>:<version>, every blob verified as it is read, with the update manifest and signature attached (OCI artifact, subject = the image)')
    .requiredOption('--media <dir>', 'the media root (the folder that holds FERRY/)')
    .requiredOption('--to <registry>', 'docker://HOST[:PORT][/PREFIX]')
    .option('--update <id>', 'push only this update, e.g. kiosk-1.1.0 (repeatable; default all)', collect, [])
    .option('--trust <dir>', 'trust folder with roots/*.pem: verify every signature before anything is pushed');
  addRegistryFlags(push)
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: PushOpts) => {
        const registry = registryOptionsOf(opts);
        const trust = opts.trust !== undefined ? await loadTrustMaterial(opts.trust) : undefined;
        const pushed = await pushMedia({
          mediaRoot: opts.media,
          to: opts.to,
          updates: opts.update,
          ...(trust ? { trust } : {}),
          registry,
        });
        if (opts.json) return printJson({ ok: true, pushed });
        for (const p of pushed) {
          printLines(`pushed ${p.id} to ${p.image} (${p.manifest.digest}): ${p.blobs.uploaded} blob(s) uploaded (${p.bytesUploaded} bytes), ${p.blobs.mounted} mounted, ${p.blobs.present} already there; update attached as ${p.artifact.digest}${p.referrersTag ? ' (referrers tag)' : ''}`);
        }
        if (trust === undefined) printLines('note: signatures were not checked (no --trust); every blob sent was checked against its digest');
      }),
    );
}
