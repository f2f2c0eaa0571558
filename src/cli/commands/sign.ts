/** `ferry sign`: add a further signature (m-of-n) to an update already on the media. */
import type { Command } from 'commander';
import { addSignature } from '../../media/publish.js';
import { readPassphrase } from '../../trust/keys.js';
import { hqWrite } from '../cancel.js';
import { action, printJson, printLines } from '../run.js';

/** Register `ferry sign` on the program. */
export function registerSign(program: Command): void {
  program
    .command('sign')
    .description("add a signer's signature to FERRY/updates/<id>.json.p7s (the manifest is not changed), e.g. QA after build")
    .requiredOption('--media <dir>', 'the media root (the folder that holds FERRY/)')
    .requiredOption('--update <id>', 'the update id, e.g. kiosk-2.3.1')
    .requiredOption('--signer <dir>', 'folder with key.pem and cert.pem (+ chain.pem)')
    .option('--passphrase-env <VAR>', "the signer key's passphrase, from this environment variable")
    .option('--passphrase-file <FILE>', "the signer key's passphrase, from this file")
    .option('--json', 'print the result as JSON')
    .action(
      action(async (o: { media: string; update: string; signer: string; passphraseEnv?: string; passphraseFile?: string; json?: boolean }) => {
        const pass = await readPassphrase({ env: o.passphraseEnv, file: o.passphraseFile });
        const r = await hqWrite(o.media, `sign ${o.update}`, o, () => addSignature({ mediaRoot: o.media, id: o.update, signerDir: o.signer, ...(pass ? { signerPassphrase: pass } : {}) }));
        if (o.json) printJson({ ok: true, ...r });
        else printLines(`signed: ${r.signaturePath} now carries ${r.signerInfos} signature(s); the pinned image's ${r.blobsChecked} blobs were verified first`);
      }),
    );
}
