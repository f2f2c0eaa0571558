import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendSignerInfo } from '../../src/trust/cms-build.js';
import { verifyUpdate } from '../../src/trust/verify.js';
import { detailLines } from '../../tui/details.js';
import { initialState, UNICODE_GLYPHS } from '../../tui/state.js';
import { stringsFor } from '../../tui/strings.js';
import { issue, makePki, manifestBytes, manifestObject, NOW, signBytes, signerOf } from '../trust/helpers.js';
import { DEVICE, LISTING } from './fake-engine.js';

const pki = makePki();
/** A second signer with its own key, under the intermediate CA. */
const qaUnderInter = issue({ profile: 'signer', commonName: 'QA Under Intermediate', keyName: 'qa' }, pki.inter);
const m = manifestBytes(manifestObject());

/** The media detail view for an update signed by a direct signer and by one under an intermediate CA, verified for real. */
async function detailFor(lang: string): Promise<{ text: string; der: Buffer[][] }> {
  const one = await signBytes(m, [signerOf(pki.signer)]);
  const two = await appendSignerInfo(one, m, signerOf(qaUnderInter, [pki.inter.cert]), new Date(NOW.getTime() + 1000));
  const v = verifyUpdate(m, two, { roots: [pki.root.cert] }, { requiredSigners: 2 }, NOW);
  const st = initialState(UNICODE_GLYPHS);
  st.device = { info: DEVICE, loading: false };
  const entry = { ...LISTING.updates[1]!, signerDetails: v.signers.map((d) => ({ ...d })) };
  st.media = { roots: ['/run/media/tech/STICK'], rootIndex: 0, listing: { ...LISTING, updates: [LISTING.updates[0]!, entry] }, loading: false, selected: 1, verdicts: {} };
  st.screen = 'media';
  const byName = new Map([['CN=Build Signer', [pki.signer.cert, pki.root.cert]], ['CN=QA Under Intermediate', [qaUnderInter.cert, pki.inter.cert, pki.root.cert]]]);
  return { text: detailLines(st, stringsFor(lang)).join('\n'), der: v.signers.map((s) => byName.get(s.subject)!) };
}

describe('signer detail view', () => {
  it('shows the full chain of every signer: subject, issuer, serial, validity from/until and SHA-256 of each certificate', async () => {
    const { text, der } = await detailFor('en');
    expect(der).toHaveLength(2);
    expect(text).toMatch(/Signer 1 of 2: /);
    expect(text).toMatch(/Signer 2 of 2: /);
    expect(text).toContain('chain of 3 certificates, signer first, trusted root last:');
    expect(text).toContain('chain of 2 certificates, signer first, trusted root last:');
    for (const chain of der) {
      for (const [k, raw] of chain.entries()) {
        const x = new X509Certificate(raw);
        expect(text).toContain(`${k + 1}. ${x.subject}`);
        expect(text).toContain(`SHA-256 ${x.fingerprint256.replace(/:/g, '').toLowerCase()}`);
        expect(text.toUpperCase()).toContain(`SERIAL ${x.serialNumber.toUpperCase()}`);
      }
    }
    expect(text).toMatch(/valid from \S.* until \S/);
    // the intermediate's own issuer is named under it
    expect(text).toMatch(/2\. CN=Test Intermediate[^\n]*\n\s+issued by CN=Test Root/);
  });
  it('uses the German catalogue for the same view', async () => {
    const { text } = await detailFor('de');
    expect(text).toContain('Signierer 2 von 2: ');
    expect(text).toContain('Kette aus 3 Zertifikaten');
    expect(text).not.toMatch(/issued by|valid from|Signer \d of/);
  });
});
