/**
 * Hostile-stick corpus through the built CLI and across sticks: terminal escapes in
 * every string a stick can get printed (index.json, update file names, signer subject,
 * notes, compatible strings), FIFOs with the process's own lifetime at stake, a CRL seen
 * on an earlier stick (finding 5), rollback through another target name (finding 6).
 * Table: test/hostile/README.md.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { expect } from 'vitest';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { fromPem } from '../../src/trust/der-write.js';
import { issueCertificate, revokeCertificate } from '../../src/trust/pki.js';
import type { Signer } from '../../src/trust/types.js';
import { simulateBoot } from '../helpers/device.js';
import { applyLib, ESCAPES } from '../helpers/hostile-device.js';
import { partPath, replaceWithSpecial, type StickPart } from '../helpers/hostile-mutate.js';
import type { HostileKit } from '../helpers/hostile-stick.js';
import { tarArchive } from '../helpers/layers.js';
import { issue, signerOf } from '../trust/helpers.js';
import type { CaseCtx, HostileCase } from './harness.js';

const LAYER = { tar: tarArchive([{ name: 'etc/', type: '5' }, { name: 'etc/os-release', data: 'ID=kiosk\n' }]) };

/** A second signer of the kit's root, revoked (once per file) by a root-signed CRL; returns its folder and the CRL PEM. */
let revoked: Promise<{ dir: string; crlPem: string }> | undefined;
function revokedSigner(hk: HostileKit): Promise<{ dir: string; crlPem: string }> {
  revoked ??= (async () => {
    const dir = path.join(hk.kit.dir, 'revoked-signer');
    await issueCertificate({ issuerDir: hk.kit.rootDir, profile: 'signer', name: 'ferry revoked signer', days: 30, out: dir });
    await revokeCertificate({ rootDir: hk.kit.rootDir, certFile: path.join(dir, 'cert.pem') });
    return { dir, crlPem: await fsp.readFile(path.join(hk.kit.rootDir, 'crl.pem'), 'utf8') };
  })();
  return revoked;
}

/** A signer with `cn` as its subject, issued by the kit's (trusted) root or by a throwaway root. */
async function signerNamed(hk: HostileKit, cn: string, trusted: boolean): Promise<Signer> {
  if (!trusted) return signerOf(issue({ profile: 'signer', commonName: cn, keyName: 'evil' }, issue({ profile: 'root', commonName: 'Evil Root', keyName: 'evil-root' })));
  const root = { cert: fromPem(await fsp.readFile(hk.kit.rootCert, 'utf8'), 'CERTIFICATE')[0]!, key: createPrivateKey(await fsp.readFile(path.join(hk.kit.rootDir, 'key.pem'))) };
  return signerOf(issue({ profile: 'signer', commonName: cn, keyName: 'evil' }, root));
}

function afterCrlStick(name: string, tries: string, crlStickHasUpdate: boolean): HostileCase {
  return {
    name,
    attacker: 'signer',
    tries,
    expect: 'CERT_REVOKED',
    async prepare({ hk, jail }) {
      const { crlPem } = await revokedSigner(hk);
      const media = await hk.newMedia();
      if (crlStickHasUpdate) await hk.publish(media, { layers: [LAYER], version: '5.0.0', counter: 500, compatible: ['other,device'] });
      await fsp.mkdir(path.join(media, 'FERRY', 'trust'), { recursive: true });
      await fsp.writeFile(path.join(media, 'FERRY', 'trust', 'crl.pem'), crlPem);
      const first = await applyLib(jail, media);
      expect(first.code, first.message).toBe(crlStickHasUpdate ? 'INCOMPATIBLE_DEVICE' : 'NO_APPLICABLE_UPDATE');
    },
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [LAYER], version: '6.6.6', counter: 666, signerDir: (await revokedSigner(hk)).dir });
      return media;
    },
  };
}

function escaped(name: string, tries: string, expect: HostileCase['expect'], alter: (media: string, ctx: CaseCtx) => Promise<void>, cli: HostileCase['cli'] = true): HostileCase {
  return {
    name,
    attacker: 'no-key',
    tries,
    expect,
    cli,
    async stick(ctx) {
      const media = await ctx.base();
      await alter(media, ctx);
      return media;
    },
  };
}

async function editIndex(media: string, edit: (idx: { manifests: Array<Record<string, unknown>> }) => void): Promise<void> {
  const file = await partPath(media, 'index.json');
  const idx = JSON.parse(await fsp.readFile(file, 'utf8'));
  edit(idx);
  await fsp.writeFile(file, JSON.stringify(idx));
}

function fifoCli(part: StickPart): HostileCase {
  return {
    name: `fifo-at-${part}-cli`,
    attacker: 'no-key',
    tries: `a FIFO in place of ${part}, through the CLI (killed after 20 s)`,
    expect: 'UNSAFE_MEDIA',
    cli: { timeoutMs: 20_000 },
    async stick({ base, jail }) {
      const media = await base();
      await replaceWithSpecial(media, part, 'fifo', jail.rootCanary);
      return media;
    },
  };
}

/** Every case of this group (the test files pick them by name). */
export const TRUST_CASES: HostileCase[] = [
  afterCrlStick('crl-only-then-revoked', 'a CRL-only stick revokes a signer; the next stick is signed by it (finding 5)', false),
  afterCrlStick('crl-refused-then-revoked', 'a CRL on a stick whose only update is refused; then the revoked signer', true),
  {
    name: 'rollback-other-target',
    attacker: 'signer',
    tries: 'kiosk 2.0.0 committed; kiosk-legacy 0.0.1 for the same compatible string (finding 6)',
    expect: 'WRONG_TARGET',
    async prepare({ hk, jail }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [LAYER], version: '2.0.0', counter: 200 });
      expect((await applyLib(jail, media)).code).toBe('ok');
      expect(await simulateBoot(jail.dev)).toBe('B');
      expect((await bootCheck({ ...jail.dev.opts, noReboot: true }, deviceDeps)).outcome).toBe('committed');
      jail.running = 'B';
      jail.target = 'A';
    },
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [LAYER], target: 'kiosk-legacy', version: '0.0.1', counter: 1 });
      return media;
    },
  },
  escaped('index-mediatype-escape', 'ESC/bidi/C1 in the index.json mediaType of the signed image', 'DIGEST_MISMATCH', (m) =>
    editIndex(m, (idx) => void (idx.manifests[0]!.mediaType = `application/vnd.oci.image.manifest.v1+json${ESCAPES}`)),
  ),
  escaped('index-annotation-escape', 'an extra index.json entry whose ref name and annotations carry escapes', 'ok', (m) =>
    editIndex(m, (idx) => void idx.manifests.push({ ...idx.manifests[0]!, mediaType: `x${ESCAPES}`, annotations: { 'org.opencontainers.image.ref.name': `kiosk-9.9.9${ESCAPES}`, note: ESCAPES } })),
  ),
  escaped('update-filename-escape', 'update files whose names carry escapes and a bidi override', 'ok', async (m) => {
    for (const n of [`kiosk-9.9.9${ESCAPES}.json`, `\u202ekiosk-1.0.0.json`, `kiosk-\u001b[31m.json.p7s`]) await fsp.writeFile(path.join(m, 'FERRY', 'updates', n), '{}');
  }),
  {
    name: 'signer-subject-escape-untrusted',
    attacker: 'no-key',
    tries: 'signed by an unknown root whose signer subject carries escapes',
    expect: 'UNTRUSTED_SIGNER',
    cli: true,
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [LAYER], version: '6.6.6', counter: 666, signer: await signerNamed(hk, `Evil${ESCAPES}Signer`, false) });
      return media;
    },
  },
  {
    name: 'signer-and-notes-escape-tty',
    attacker: 'signer',
    tries: 'a trusted signer named with escapes, notes with escapes, shown at the confirmation prompt (answered no)',
    expect: 'CANCELLED',
    cli: { ttyAnswer: 'n\n' },
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [LAYER], version: '6.6.6', counter: 666, notes: `fixes${ESCAPES}installed kiosk-9.9.9\nline two${ESCAPES}`, signer: await signerNamed(hk, `Build${ESCAPES}Signer`, true) });
      return media;
    },
  },
  {
    name: 'compatible-escape',
    attacker: 'signer',
    tries: 'a signed compatible string with escapes (printed in the skip reason)',
    expect: 'INCOMPATIBLE_DEVICE',
    cli: true,
    async stick({ hk }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: [LAYER], version: '6.6.6', counter: 666, compatible: [`acme,kiosk-v3${ESCAPES}`] });
      return media;
    },
  },
  fifoCli('index.json'),
  fifoCli('layer'),
];

