/**
 * Receipts at fleet scale (issue 15): a stick holding 10,000 signed receipts from 2,000
 * enrolled devices (5 each: apply, boot-check, drift, apply, boot-check, one in ten rolled
 * back), collected into a fresh store and reported as a table and as HTML with enrolment
 * and a campaign checked: the three built-CLI runs timed together, peak RSS the largest of
 * them. The fixture is written directly (untimed); receipts are signed and device
 * certificates issued with ferry's own code.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RECEIPT_SCHEMA, type Receipt, utcStamp } from '../src/device/receipts.js';
import { toPem } from '../src/trust/der-write.js';
import { issueDeviceCertificate } from '../src/trust/device-cert.js';
import { enrolmentFile } from '../src/trust/enroll.js';
import { readPrivateKey } from '../src/trust/keys.js';
import { initRoot, readCaDir } from '../src/trust/pki.js';
import { publicKeyId, signReceiptBytes } from '../src/trust/receipt-signature.js';
import { ferryArgv } from './ferry.js';
import { measure, type Sample } from './proc.js';
import { measured, type Row } from './report.js';

const DEVICES = 2000;
const PER_DEVICE = 5;

function receiptsOf(i: number, t0: number): Receipt[] {
  const id = `dev-${String(i).padStart(5, '0')}`;
  const compatible = i % 2 === 0 ? 'acme,kiosk-v2' : 'acme,pos-5';
  const fails = i % 10 === 0;
  const mk = (n: number, over: Partial<Receipt>): Receipt => {
    const at = new Date(t0 + i * 1000 + n * 3_600_000);
    const s = { A: { status: 'good' as const, version: '2.2.0' }, B: { status: 'good' as const, version: '2.3.1' } };
    return { schema: RECEIPT_SCHEMA, action: 'apply', stamp: utcStamp(at), deviceId: id, compatible, result: 'success', bootedSlot: 'A', before: s, after: s, startedAt: new Date(at.getTime() - 60_000).toISOString(), finishedAt: at.toISOString(), durationMs: 60_000, version: '2.3.1', ...over };
  };
  return [
    mk(0, { version: '2.3.0' }), mk(1, { action: 'boot-check', bootedSlot: 'B', version: '2.3.0', targetSlot: 'B' }),
    mk(2, { action: 'drift', result: i % 50 === 0 ? 'failure' : 'success', message: 'slot B matches kiosk-2.3.0' }),
    mk(3, { targetSlot: 'A' }),
    fails
      ? mk(4, { action: 'boot-check', result: 'rolled-back', targetSlot: 'A', rollbackReason: 'health check failed: exited 3', bootAttempts: { used: 1, allowed: 3 } })
      : mk(4, { action: 'boot-check', targetSlot: 'A' }),
  ];
}

/** Write the stick, the device CA with every device enrolled, and a campaign file; returns the stick's receipt bytes. */
export async function receiptsFleetFixture(dir: string): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await initRoot({ out: join(dir, 'device-ca'), name: 'bench device CA', days: 3650 });
  const ca = (await readCaDir(join(dir, 'device-ca'))).cert;
  const caKey = await readPrivateKey(join(dir, 'device-ca', 'key.pem'));
  await mkdir(join(dir, 'device-ca', 'devices'));
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  let bytes = 0;
  for (let i = 0; i < DEVICES; i++) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rs = receiptsOf(i, t0);
    const folder = join(dir, 'stick', 'FERRY', 'receipts', rs[0]!.deviceId);
    await mkdir(folder, { recursive: true });
    for (const r of rs) {
      const text = JSON.stringify({ ...r, signature: signReceiptBytes(r, key.privateKey, key.publicKey) }, null, 2) + '\n';
      bytes += text.length;
      await writeFile(join(folder, `${r.stamp}-${r.action}.json`), text);
    }
    const spkiDer = key.publicKey.export({ type: 'spki', format: 'der' });
    const der = issueDeviceCertificate({ request: { deviceId: rs[0]!.deviceId, publicKey: key.publicKey, spkiDer, keyId: publicKeyId(key.publicKey) }, issuer: ca, issuerKey: caKey, notBefore: new Date(t0), notAfter: new Date(t0 + 365 * 86_400_000) });
    await writeFile(enrolmentFile(join(dir, 'device-ca'), publicKeyId(key.publicKey)), toPem(der, 'CERTIFICATE'));
  }
  await mkdir(join(dir, 'signer'));
  await writeFile(join(dir, 'campaign.yaml'), 'name: bench\nsigners:\n  - dir: signer\nimages:\n  - { image: "oci:k", target: kiosk, version: 2.3.1, compatible: ["acme,kiosk-v2"] }\n  - { image: "oci:p", target: pos, version: 2.3.1, compatible: ["acme,pos-5"] }\n');
  return bytes;
}

/** The row: collect + report table + report html, `runs` times, each into a fresh store. */
export async function receiptsScaleRows(workdir: string, runs: number, log: (s: string) => void): Promise<Row[]> {
  const dir = join(workdir, 'receipts-scale');
  log(`receipts: writing ${DEVICES * PER_DEVICE} signed receipts from ${DEVICES} enrolled devices`);
  const bytes = await receiptsFleetFixture(dir);
  // "$0" $7 "$1": Node, the options of ferry's #! line (unquoted: one word each), the CLI
  const [node, ...rest] = ferryArgv() as [string, ...string[]];
  const cli = rest.pop()!;
  const script = 'set -e; rm -f "$3"; "$0" $7 "$1" receipts collect --media "$2" --into "$3" >/dev/null; "$0" $7 "$1" receipts report --from "$3" --device-ca "$4" --campaign "$5" >/dev/null; "$0" $7 "$1" receipts report --from "$3" --device-ca "$4" --campaign "$5" --format html --out "$6" >/dev/null';
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    samples.push(await measure(['sh', '-c', script, node, cli, join(dir, 'stick'), join(dir, 'store.sqlite'), join(dir, 'device-ca'), join(dir, 'campaign.yaml'), join(dir, 'report.html'), rest.join(' ')]));
    log(`  receipts run ${i + 1}: ${samples[i]!.wallSec.toFixed(2)} s, ${(samples[i]!.maxRssKiB / 1024).toFixed(0)} MiB`);
  }
  await rm(dir, { recursive: true, force: true });
  return [{
    op: 'receipts: collect + report (table and html)',
    size: `${DEVICES * PER_DEVICE} receipts, ${DEVICES} devices`,
    inputBytes: bytes,
    ferry: measured(samples),
    peer: { name: 'none (ferry-specific)', outcome: { kind: 'not-run', reason: 'no peer tool reads ferry receipts' } },
    target: { maxMs: 3000, maxRssMiB: 200 },
    notes: 'three built-CLI runs timed together (Node start-up included three times); signatures, enrolment (2,000 device certificates) and a campaign checked; fresh store each run',
  }];
}
