import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFleetReport, parseSince } from '../../../src/media/receipts-store/report.js';
import { reportCsv, reportTable } from '../../../src/media/receipts-store/report-text.js';
import { buildFleet, type Fleet } from '../../helpers/receipts-fleet.js';

let dir: string;
let fleet: Fleet;
const NOW = new Date('2026-11-21T00:00:00.000Z');

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-report-'));
  fleet = await buildFleet(dir);
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('buildFleetReport', () => {
  it('gives each device its latest state from the receipts that verify and are enrolled', async () => {
    const { report, problems } = await buildFleetReport({ storeFile: fleet.store, deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign, now: NOW });
    expect(problems).toEqual([]);
    const byId = Object.fromEntries(report.devices.map((d) => [d.deviceId, d]));
    expect(byId.k1).toMatchObject({ state: 'running', running: '2.3.1', site: 'site-north', excluded: 1, lastSeen: '2026-11-20T10:10:00.000Z' });
    expect(byId.k2).toMatchObject({ state: 'rolled-back', running: '2.2.0', attempted: '2.3.1', reason: 'health check failed: exited 3: kiosk app did not start' });
    expect(byId.k3).toMatchObject({ state: 'never-seen', receipts: 0 });
    expect(byId.p1).toMatchObject({ state: 'pending', running: '5.0.1', pending: '5.0.2', drifted: true, site: 'site-south' });
    expect(byId.p2).toMatchObject({ state: 'apply-failed', reason: 'slot B: no space left on device' });
    expect(byId.x9).toMatchObject({ state: 'unverified', receipts: 1, excluded: 1 });
    expect(byId.old1).toMatchObject({ state: 'unverified' });
    expect(report.receipts).toEqual({ total: 10, counted: 7, excluded: { verified: 0, signed: 0, unenrolled: 1, 'bad-signature': 1, unsigned: 1 } });
    expect(report.excluded.map((x) => [x.deviceId, x.verdict])).toEqual([['k1', 'bad-signature'], ['old1', 'unsigned'], ['x9', 'unenrolled']]);
  });

  it('counts per campaign target and per site, and lists the devices that need a visit', async () => {
    const { report } = await buildFleetReport({ storeFile: fleet.store, deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign, now: NOW });
    expect(report.campaign!.targets.map((t) => [t.updateId, t.counts])).toEqual([
      ['kiosk-2.3.1', { updated: 1, pending: 0, failed: 0, 'rolled-back': 1, 'not-reached': 0 }],
      ['pos-5.0.2', { updated: 0, pending: 1, failed: 1, 'rolled-back': 0, 'not-reached': 0 }],
    ]);
    expect(report.sites.map((s) => [s.site, s.devices, s.visits])).toEqual([['(unknown)', 1, 1], ['site-north', 3, 2], ['site-south', 3, 3]]);
    expect(Object.fromEntries(report.visits.map((v) => [v.deviceId, v.why]))).toEqual({
      k2: 'rolled back from 2.3.1 to 2.2.0: health check failed: exited 3: kiosk app did not start',
      k3: 'enrolled but no receipt yet',
      old1: expect.stringMatching(/none of its 1 receipt\(s\) could be trusted/),
      p1: 'drifted: slot A: 2 entries differ from pos-5.0.1',
      p2: 'apply of 5.0.2 failed: slot B: no space left on device',
      x9: expect.stringMatching(/could be trusted/),
    });
  });

  it('counts unsigned receipts only when asked, and valid signatures without a register as "signed"', async () => {
    const { report } = await buildFleetReport({ storeFile: fleet.store, acceptUnsigned: true, now: NOW });
    expect(report.enrolmentChecked).toBe(false);
    expect(report.receipts.excluded).toMatchObject({ unsigned: 0, 'bad-signature': 1, unenrolled: 0 });
    expect(report.devices.find((d) => d.deviceId === 'old1')).toMatchObject({ state: 'running', running: '4.9.0' });
    expect(report.devices.find((d) => d.deviceId === 'x9')).toMatchObject({ state: 'pending' });
  });

  it('reads only receipts since a date', async () => {
    const { report } = await buildFleetReport({ storeFile: fleet.store, deviceCaDir: fleet.deviceCa, since: parseSince('2026-11-20T10:05:00Z'), now: NOW });
    expect(report.receipts.total).toBe(3);
    expect(report.devices.find((d) => d.deviceId === 'p1')).toMatchObject({ state: 'never-seen' });
    expect(() => parseSince('last tuesday')).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('renders a table and a CSV that a spreadsheet cannot run as formulas', async () => {
    const { report } = await buildFleetReport({ storeFile: fleet.store, deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign, now: NOW });
    const table = reportTable(report);
    expect(table[0]).toMatch(/^fleet report 2026-11-21T00:00:00.000Z: 7 device\(s\), 7 of 10 receipt\(s\) counted; signatures and enrolment checked$/);
    expect(table).toContain('devices that need a visit: 6');
    expect(table.find((l) => l.includes('kiosk-2.3.1'))).toMatch(/kiosk-2\.3\.1\s+acme,kiosk-v2\s+1\s+0\s+0\s+1\s+0/);
    report.devices[0]!.reason = '=HYPERLINK("http://x")';
    const csv = reportCsv(report).split('\r\n');
    expect(csv[0]).toBe('device,site,compatible,state,running,pending,drifted,last seen,receipts,excluded,reason,visit');
    expect(csv[1]).toContain(`"'=HYPERLINK(""http://x"")"`);
  });
});
