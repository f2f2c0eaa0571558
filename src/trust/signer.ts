/**
 * The file-key Signer (I/O shell): a signer directory holds key.pem (PKCS#8, maybe
 * encrypted), cert.pem (the code-signing certificate) and optionally chain.pem
 * (intermediate CAs, not the root). Other Signers (HSM via PKCS#11, an external
 * signing command) implement the same interface from trust/types.ts: they need only
 * the certificate chain and a sign(signedAttributes) → signature function.
 */
import { sign as cryptoSign, createPublicKey } from 'node:crypto';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { exists } from '../util/fsx.js';
import { readCertificates, readPrivateKey } from './keys.js';
import type { Signer } from './types.js';
import { parseCertificate } from './x509.js';

/** Load the Signer in `dir`; checks that key and certificate belong together. */
export async function loadFileSigner(dir: string, passphrase?: string): Promise<Signer> {
  const key = await readPrivateKey(path.join(dir, 'key.pem'), passphrase);
  const [leafDer] = await readCertificates(path.join(dir, 'cert.pem'), 'signer certificate');
  const chainFile = path.join(dir, 'chain.pem');
  const chain = (await exists(chainFile)) ? await readCertificates(chainFile, 'certificate chain') : [];
  const leaf = parseCertificate(leafDer!, `${dir}/cert.pem`, 'KEY_INVALID');
  const certKey = leaf.publicKey.export({ type: 'spki', format: 'der' });
  const ownKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!certKey.equals(ownKey)) throw new FerryError('KEY_INVALID', `${dir}: key.pem does not belong to cert.pem; keep each signer's key and certificate together`);
  return {
    // The root stays out: devices must find it in their own trust store, never on the stick.
    certificateChain: [leafDer!, ...chain.filter((c) => !isSelfSigned(c))],
    sign: async (data: Buffer) => cryptoSign('sha256', data, key),
  };
}

function isSelfSigned(der: Buffer): boolean {
  const c = parseCertificate(der, 'chain certificate', 'KEY_INVALID');
  return c.issuerDer.equals(c.subjectDer) && c.x509.checkIssued(c.x509);
}
