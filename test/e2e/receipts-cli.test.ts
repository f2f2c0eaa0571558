/**
 * `ferry receipts collect` and `ferry receipts report` through the built CLI, on the fleet of
 * test/helpers/receipts-fleet.ts: exit codes, the listed rejects, --clear, and each format.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFleet, type Fleet } from '../helpers/receipts-fleet.js';
import { putOnStick, receiptOf } from '../helpers/receipts.js';
import { ensureBuilt, hq } from './device-run.js';

let dir: string;
let fleet: Fleet;

beforeAll(async () => {
  ensureBuilt();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-cli-'));
  fleet = await buildFleet(dir);
}, 120_000);
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('ferry receipts (built CLI)', () => {
  it('collect lists a damaged file (exit 5, RECEIPT_REJECTED), stores the rest and clears only those', async () => {
    const [file] = await putOnStick(path.join(dir, 'site-east'), [receiptOf('e1', new Date('2026-11-20T12:00:00Z'))]);
    const bad = path.join(path.dirname(file!), '20261120T120100.000Z-apply.json');
    await fsp.writeFile(bad, '{"schema":"ferry.receipt/v1"}');
    const r = hq('receipts', 'collect', '--media', path.join(dir, 'site-east'), '--into', path.join(dir, 'east.sqlite'), '--clear');
    expect(r.code).toBe(5);
    expect(r.out).toBe(`1 receipt(s) on ${path.join(dir, 'site-east')} (site site-east): 1 new, 0 already stored; the store holds 1\nsignatures: 0 do not verify, 1 unsigned (reports mark them and leave them out)\nremoved 1 stored receipt(s) from the stick\n`);
    expect(r.err).toMatch(/^ferry: rejected .*20261120T120100\.000Z-apply\.json: action must be one of/m);
    expect(r.err).toMatch(/error\[RECEIPT_REJECTED\]: 1 file\(s\) under FERRY\/receipts\/ are not valid receipts/);
    await expect(fsp.stat(file!)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fsp.stat(bad)).resolves.toBeDefined();
    const again = hq('receipts', 'collect', '--media', path.join(dir, 'site-north'), '--into', fleet.store, '--json', '--site', 'north');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ ok: true, found: 6, added: 0, duplicates: 6, site: 'north' });
  });

  it('report prints the table, and writes json, csv and html', async () => {
    const base = ['receipts', 'report', '--from', fleet.store, '--device-ca', fleet.deviceCa, '--campaign', fleet.campaign];
    const table = hq(...base);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^fleet report .*: 7 device\(s\), 7 of 10 receipt\(s\) counted; signatures and enrolment checked\nleft out: 1 unenrolled, 1 bad-signature, 1 unsigned\n/);
    expect(table.out).toMatch(/\n {2}k2 \(site-north\): rolled back from 2\.3\.1 to 2\.2\.0: health check failed: exited 3: kiosk app did not start\n/);
    const json = JSON.parse(hq(...base, '--format', 'json').out);
    expect(json.campaign.targets[1]).toMatchObject({ updateId: 'pos-5.0.2', counts: { pending: 1, failed: 1 } });
    expect(hq(...base, '--format', 'csv', '--out', path.join(dir, 'r.csv')).code).toBe(0);
    expect((await fsp.readFile(path.join(dir, 'r.csv'), 'utf8')).split('\r\n')).toHaveLength(9);
    // on stdout too: the same document, CRLF kept, nothing shown as "?"
    expect(hq(...base, '--format', 'csv').out).toBe(await fsp.readFile(path.join(dir, 'r.csv'), 'utf8'));
    expect(hq(...base, '--format', 'html', '--out', path.join(dir, 'r.html')).code).toBe(0);
    expect(await fsp.readFile(path.join(dir, 'r.html'), 'utf8')).toMatch(/^<!doctype html>/);
    const bad = hq('receipts', 'report', '--from', path.join(dir, 'nope.sqlite'));
    expect([bad.code, bad.err]).toEqual([2, expect.stringMatching(/error\[RECEIPTS_STORE_INVALID\]: .*nope\.sqlite does not exist/)]);
    expect(hq(...base, '--format', 'xml').code).toBe(2);
  });
});
