import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportHtml } from '../../../src/media/receipts-store/report-html.js';
import { buildFleetReport } from '../../../src/media/receipts-store/report.js';
import { buildFleet } from '../../helpers/receipts-fleet.js';

let dir: string;
let file: string;
let html: string;

/** Real headless Chromium (Debian package); root needs --no-sandbox. A fresh profile per run. */
function chromium(args: string[]): string {
  const profile = path.join(dir, `profile-${Math.random().toString(16).slice(2)}`);
  return execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--window-size=1280,1100', ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 64 * 1024 * 1024,
  });
}

function rowsOf(dom: string): Array<{ id: string; state: string; hidden: boolean }> {
  return [...dom.matchAll(/<tr data-state="([^"]+)"[^>]*?( hidden="")?>(?:<td[^>]*><b>([^<]+)<\/b>)/g)].map((m) => ({ state: m[1]!, hidden: m[2] !== undefined, id: m[3]! }));
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-html-'));
  const fleet = await buildFleet(dir);
  const { report } = await buildFleetReport({ storeFile: fleet.store, deviceCaDir: fleet.deviceCa, campaignFile: fleet.campaign, now: new Date('2026-11-21T00:00:00Z') });
  // a hostile string from a stick must come out as text
  report.devices.find((d) => d.deviceId === 'p2')!.reason = '<img src=x onerror=alert(1)>\u202egnp.exe';
  html = reportHtml(report);
  file = path.join(dir, 'report.html');
  await fsp.writeFile(file, html);
}, 120_000);
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('the HTML fleet report', () => {
  it('is one self-contained file: no network, one inline script allowed by hash, receipt text escaped', () => {
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/=]+'"/);
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;?gnp.exe');
    expect(html).not.toContain('<img');
  });

  it('in Chromium, filters by state and sorts by a column from the URL fragment', () => {
    const all = rowsOf(chromium(['--dump-dom', `file://${file}`]));
    expect(all.map((r) => r.id)).toEqual(['k1', 'k2', 'k3', 'old1', 'p1', 'p2', 'x9']);
    expect(all.every((r) => !r.hidden)).toBe(true);
    const dom = chromium(['--dump-dom', `file://${file}#state=rolled-back`]);
    expect(dom).toContain('data-ready="yes"');
    const rows = rowsOf(dom);
    expect(rows.filter((r) => !r.hidden).map((r) => r.id)).toEqual(['k2']);
    expect(dom).toMatch(/<span id="shown">1<\/span>/);
    const sorted = chromium(['--dump-dom', `file://${file}#sort=device:desc`]);
    expect(rowsOf(sorted).map((r) => r.id)).toEqual(['x9', 'p2', 'p1', 'old1', 'k3', 'k2', 'k1']);
    expect(sorted).toMatch(/data-key="device"[^>]*aria-sort="descending"/);
  });

  it('in Chromium, renders the summary bars and the escaped text, and screenshots cleanly', async () => {
    const dom = chromium(['--dump-dom', `file://${file}`]);
    expect(dom).toMatch(/<h3 data-target="kiosk-2.3.1">/);
    expect(dom).toMatch(/<span data-status="rolled-back">.*?rolled-back <b>1<\/b><\/span>/);
    expect(dom).not.toContain('<img');
    const png = path.join(dir, 'receipts-report.png');
    chromium([`--screenshot=${png}`, `file://${file}`]);
    const bytes = await fsp.readFile(png);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(bytes.length).toBeGreaterThan(20_000);
    if (process.env.FERRY_WRITE_SCREENS === '1') await fsp.copyFile(png, path.join(import.meta.dirname, '../../../docs/screens/receipts-report.png'));
  });
});
