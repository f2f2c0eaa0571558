/**
 * Test helper: a small fleet's receipts in a real store, with a real device CA register and a
 * campaign file: kiosks updated, rolled back and never seen, POS terminals pending, failed and
 * drifted, a device whose key is not enrolled, a forged receipt and an old unsigned one.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Receipt } from '../../src/device/receipts.js';
import { toPem } from '../../src/trust/der-write.js';
import { buildDeviceCsr } from '../../src/trust/device-cert.js';
import { enrollDevice } from '../../src/trust/enroll.js';
import { initRoot } from '../../src/trust/pki.js';
import { collectReceipts } from '../../src/media/receipts-store/collect.js';
import { deviceKeyPair, putOnStick, receiptOf, signed } from './receipts.js';

const T0 = new Date('2026-11-20T10:00:00.000Z');
const at = (min: number) => new Date(T0.getTime() + min * 60_000);
const KIOSK = 'acme,kiosk-v2';
const POS = 'acme,pos-5';

type Slots = Receipt['after'];
const slots = (a: string, b: string | undefined, bStatus: 'good' | 'pending' | 'bad' | 'empty' = 'good'): Slots => ({ A: { status: 'good', version: a }, B: { status: bStatus, ...(b ? { version: b } : {}) } });

/** The fleet's files. */
export interface Fleet {
  dir: string;
  store: string;
  deviceCa: string;
  campaign: string;
}

/** Build the fleet under `dir`: two sticks (site-north, site-south) collected into one store. */
export async function buildFleet(dir: string): Promise<Fleet> {
  const p = (...x: string[]) => path.join(dir, ...x);
  await initRoot({ out: p('device-ca'), name: 'Fleet device CA', days: 3650 });
  const keys: Record<string, ReturnType<typeof deviceKeyPair>> = {};
  for (const id of ['k1', 'k2', 'k3', 'p1', 'p2']) {
    keys[id] = deviceKeyPair();
    await fsp.writeFile(p(`${id}.csr`), toPem(buildDeviceCsr(id, keys[id]!.privateKey), 'CERTIFICATE REQUEST'));
    await enrollDevice({ caDir: p('device-ca'), csrFile: p(`${id}.csr`), days: 365 });
  }
  const stray = deviceKeyPair();
  const k = (id: string) => keys[id]!;
  const north: Receipt[] = [
    signed(receiptOf('k1', at(0), { version: '2.3.1', updateId: 'kiosk-2.3.1', targetSlot: 'B', after: slots('2.2.0', '2.3.1', 'pending') }), k('k1')),
    signed(receiptOf('k1', at(10), { action: 'boot-check', bootedSlot: 'B', targetSlot: 'B', version: '2.3.1', after: slots('2.2.0', '2.3.1') }), k('k1')),
    signed(receiptOf('k2', at(0), { version: '2.3.1', targetSlot: 'B', after: slots('2.2.0', '2.3.1', 'pending') }), k('k2')),
    signed(receiptOf('k2', at(12), {
      action: 'boot-check', result: 'rolled-back', bootedSlot: 'B', targetSlot: 'B', version: '2.3.1', after: slots('2.2.0', '2.3.1', 'bad'),
      error: { code: 'HEALTH_CHECK_FAILED', message: 'slot B (2.3.1): health check failed: exited 3: kiosk app did not start' },
      rollbackReason: 'health check failed: exited 3: kiosk app did not start', bootAttempts: { used: 1, allowed: 3 },
    }), k('k2')),
    // signed by a key nobody enrolled
    signed(receiptOf('x9', at(3), { version: '2.3.1', after: slots('2.2.0', '2.3.1', 'pending') }), stray),
  ];
  // a receipt changed after signing: claims k1 failed
  const forged = { ...signed(receiptOf('k1', at(20), { action: 'boot-check', result: 'failure', version: '2.3.1', error: { code: 'HEALTH_CHECK_FAILED', message: 'forged' } }), k('k1')), message: 'changed after signing' };
  north.push(forged);
  const south: Receipt[] = [
    signed(receiptOf('p1', at(1), { compatible: POS, version: '5.0.2', after: slots('5.0.1', '5.0.2', 'pending') }), k('p1')),
    signed(receiptOf('p1', at(2), { compatible: POS, action: 'drift', result: 'failure', version: '5.0.1', message: 'slot A: 2 entries differ from pos-5.0.1', after: slots('5.0.1', '5.0.2', 'pending') }), k('p1')),
    signed(receiptOf('p2', at(1), { compatible: POS, result: 'failure', version: '5.0.2', error: { code: 'NO_SPACE', message: 'slot B: no space left on device' }, after: slots('5.0.1', undefined, 'bad') }), k('p2')),
    // made before receipts were signed
    receiptOf('old1', at(-600), { compatible: POS, action: 'boot-check', after: slots('4.9.0', undefined, 'empty') }),
  ];
  await putOnStick(p('site-north'), north);
  await putOnStick(p('site-south'), south);
  const store = p('receipts.sqlite');
  await collectReceipts({ mediaRoot: p('site-north'), storeFile: store });
  await collectReceipts({ mediaRoot: p('site-south'), storeFile: store });
  await fsp.mkdir(p('signer'));
  await fsp.writeFile(p('campaign.yaml'), [
    'name: spring-refresh',
    'images:',
    '  - image: oci:kiosk-layout',
    '    target: kiosk',
    '    version: 2.3.1',
    `    compatible: ["${KIOSK}"]`,
    '  - image: oci:pos-layout',
    '    target: pos',
    '    version: 5.0.2',
    `    compatible: ["${POS}"]`,
    'signers:',
    '  - dir: signer',
    '',
  ].join('\n'));
  return { dir, store, deviceCa: p('device-ca'), campaign: p('campaign.yaml') };
}
