/**
 * The store's v2 fact columns: a report from them equals a report from the bodies (a v1 store,
 * read as it is), and a v1 store is migrated when collect opens it: facts filled from each body,
 * a body that no longer passes the schema left without facts and listed as damaged, the store
 * append-only afterwards.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectReceipts } from '../../../src/media/receipts-store/collect.js';
import { buildFleetReport } from '../../../src/media/receipts-store/report.js';
import { ReceiptsStore } from '../../../src/media/receipts-store/store.js';
import { buildFleet, type Fleet } from '../../helpers/receipts-fleet.js';
import { deviceKeyPair, putOnStick, receiptOf, signed } from '../../helpers/receipts.js';

let dir: string;
let fleet: Fleet;
const NOW = new Date('2026-11-21T00:00:00.000Z');
const p = (...x: string[]) => path.join(dir, ...x);

/** The layout ferry.receipts-store/v1 stores were made with (before the fact columns). */
const V1_DDL = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE receipts (
  device_id TEXT NOT NULL, stamp TEXT NOT NULL, action TEXT NOT NULL,
  finished_at TEXT NOT NULL, sha256 TEXT NOT NULL, body TEXT NOT NULL,
  sig TEXT NOT NULL, source TEXT NOT NULL, site TEXT NOT NULL, collected_at TEXT NOT NULL,
  PRIMARY KEY (device_id, stamp, action));
CREATE TABLE conflicts (
  device_id TEXT NOT NULL, stamp TEXT NOT NULL, action TEXT NOT NULL, sha256 TEXT NOT NULL,
  body TEXT NOT NULL, source TEXT NOT NULL, collected_at TEXT NOT NULL,
  PRIMARY KEY (device_id, stamp, action, sha256));
CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER conflicts_no_update BEFORE UPDATE ON conflicts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER conflicts_no_delete BEFORE DELETE ON conflicts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
INSERT INTO meta (key, value) VALUES ('schema', 'ferry.receipts-store/v1');
`;

/** A v1 store holding the rows of the (v2) store `from`, plus `extra` rows [device, stamp, body]. */
function v1CopyOf(from: string, to: string, extra: Array<[string, string, string]> = []): void {
  const db = new DatabaseSync(to);
  db.exec(V1_DDL);
  db.exec(`ATTACH DATABASE '${from.replace(/'/g, "''")}' AS v2`);
  db.exec('INSERT INTO receipts SELECT device_id, stamp, action, finished_at, sha256, body, sig, source, site, collected_at FROM v2.receipts; INSERT INTO conflicts SELECT * FROM v2.conflicts; DETACH DATABASE v2');
  const add = db.prepare("INSERT INTO receipts VALUES (?, ?, 'apply', '2026-11-20T10:30:00.000Z', 'x', ?, 'unsigned', 'damaged.json', 'site-x', '2026-11-21T00:00:00.000Z')");
  for (const [device, stamp, body] of extra) add.run(device, stamp, body);
  db.close();
}

function schemaOf(file: string): string {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string }).value;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-migrate-'));
  fleet = await buildFleet(dir);
  // an operator's rollback too: the one fact the schema leaves open (rollback.to.version)
  const key = deviceKeyPair();
  const t = new Date('2026-11-20T11:00:00.000Z');
  await putOnStick(p('site-west'), [
    signed(receiptOf('w1', t, { version: '3.0.0', targetSlot: 'B', after: { A: { status: 'good', version: '2.0.0' }, B: { status: 'good', version: '3.0.0' } } }), key),
    signed(receiptOf('w1', new Date(t.getTime() + 60_000), {
      action: 'rollback', bootedSlot: 'B', targetSlot: 'B', message: 'operator rollback',
      rollback: { by: 'operator', at: t.toISOString(), from: { slot: 'B', version: '3.0.0' }, to: { slot: 'A', version: '2.0.0' } },
    }), key),
  ]);
  await collectReceipts({ mediaRoot: p('site-west'), storeFile: fleet.store });
}, 120_000);
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('receipts store v2', () => {
  it('reports from the fact columns exactly what the bodies say (a v1 store, read as it is, unchanged)', async () => {
    v1CopyOf(fleet.store, p('v1.sqlite'));
    const before = await fsp.readFile(p('v1.sqlite'));
    for (const opts of [{ deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign }, { acceptUnsigned: true }, { since: new Date('2026-11-20T10:05:00Z') }]) {
      const v2 = await buildFleetReport({ storeFile: fleet.store, now: NOW, ...opts });
      const v1 = await buildFleetReport({ storeFile: p('v1.sqlite'), now: NOW, ...opts });
      expect(v1).toEqual(v2);
    }
    const { report } = await buildFleetReport({ storeFile: fleet.store, now: NOW });
    expect(report.devices.find((d) => d.deviceId === 'w1')).toMatchObject({ state: 'rolled-back', running: '2.0.0', reason: 'rollback by operator: operator rollback' });
    expect(schemaOf(p('v1.sqlite'))).toBe('ferry.receipts-store/v1');
    expect((await fsp.readFile(p('v1.sqlite'))).equals(before)).toBe(true);
  });

  it('migrates a v1 store when collect opens it; a body that fails the schema is listed as damaged, and the store stays append-only', async () => {
    v1CopyOf(fleet.store, p('old.sqlite'), [['d1', '20261120T103000.000Z', '{"schema":"ferry.receipt/v1"}'], ['d2', '20261120T103000.000Z', 'not json']]);
    const want = await buildFleetReport({ storeFile: fleet.store, deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign, now: NOW });
    const r = await collectReceipts({ mediaRoot: p('site-west'), storeFile: p('old.sqlite') });
    expect(r).toMatchObject({ found: 2, added: 0, duplicates: 2 });
    expect(schemaOf(p('old.sqlite'))).toBe('ferry.receipts-store/v2');
    const got = await buildFleetReport({ storeFile: p('old.sqlite'), deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign, now: NOW });
    expect(got.report).toEqual(want.report);
    expect(got.problems).toEqual([expect.stringMatching(/^a stored receipt from damaged\.json is damaged \(.*action must be one of/), 'a stored receipt from damaged.json is damaged (is not a JSON object)']);
    const db = new DatabaseSync(p('old.sqlite'));
    try {
      expect(db.prepare('SELECT count(*) AS n, count(compatible) AS c, count(rollback_to) AS r FROM receipts').get()).toEqual({ n: 14, c: 12, r: 1 });
      expect(() => db.exec("UPDATE receipts SET compatible = 'x'")).toThrow(/append-only/);
      expect(() => db.exec('DELETE FROM receipts')).toThrow(/append-only/);
    } finally {
      db.close();
    }
    // opened again: already v2, nothing to migrate
    const s = await ReceiptsStore.open(p('old.sqlite'));
    expect(s.count()).toBe(14);
    s.close();
  });
});
