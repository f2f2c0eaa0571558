/** `ferry push`: seed a site registry from a stick (each blob verified as it is read), with the signed updates attached to their images. */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { pushMedia } from '../../media/push.js';
import { loadTrustMaterial } from '../../trust/load.js';
import { action, printJson, printLines } from '../run.js';

interface PushOpts {
  media: string;
  to: string;
  update: string[];
  trust?: string;
  authfile?: string;
  certDir?: string;
  tlsVerify: string;
  json?: boolean;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Register `ferry push` on the program. */
export function registerPush(program: Command): void {
  program
    .command('push')
    .description('push each signed update\'s image to a registry as PREFIX/<target>:<version>, every blob verified as it is read, with the update manifest and signature attached (OCI artifact, subject = the image)')
    .requiredOption('--media <dir>', 'the media root (the folder that holds FERRY/)')
    .requiredOption('--to <registry>', 'docker://HOST[:PORT][/PREFIX]')
    .option('--update <id>', 'push only this update, e.g. kiosk-1.1.0 (repeatable; default all)', collect, [])
    .option('--trust <dir>', 'trust folder with roots/*.pem: verify every signature before anything is pushed')
    .option('--authfile <file>', 'credentials from this auth.json (default: ${XDG_RUNTIME_DIR}/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json)')
    .option('--cert-dir <dir>', 'also trust the CA certificates (*.crt) in this folder')
    .option('--tls-verify <bool>', "verify the registry's TLS certificate; false also allows plain HTTP", 'true')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: PushOpts) => {
        if (opts.tlsVerify !== 'true' && opts.tlsVerify !== 'false') throw new FerryError('USAGE', `--tls-verify must be true or false, not "${opts.tlsVerify}"`);
        const trust = opts.trust !== undefined ? await loadTrustMaterial(opts.trust) : undefined;
        const pushed = await pushMedia({
          mediaRoot: opts.media,
          to: opts.to,
          updates: opts.update,
          ...(trust ? { trust } : {}),
          registry: { tlsVerify: opts.tlsVerify === 'true', ...(opts.authfile !== undefined ? { authfile: opts.authfile } : {}), ...(opts.certDir !== undefined ? { certDir: opts.certDir } : {}) },
        });
        if (opts.json) return printJson({ ok: true, pushed });
        for (const p of pushed) {
          printLines(`pushed ${p.id} to ${p.image} (${p.manifest.digest}): ${p.blobs.uploaded} blob(s) uploaded (${p.bytesUploaded} bytes), ${p.blobs.mounted} mounted, ${p.blobs.present} already there; update attached as ${p.artifact.digest}${p.referrersTag ? ' (referrers tag)' : ''}`);
        }
        if (trust === undefined) printLines('note: signatures were not checked (no --trust); every blob sent was checked against its digest');
      }),
    );
}
