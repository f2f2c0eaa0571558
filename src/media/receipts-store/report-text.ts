/**
 * The fleet report as text: `table` for a person (lines; the CLI sanitises each for the
 * terminal) and `csv` (RFC 4180, one row per device) for a spreadsheet. Every string in a
 * receipt came from a stick: control characters are replaced, and a CSV cell that a spreadsheet
 * would run as a formula (= + - @ at its start) is prefixed with a quote. Pure.
 */
import { sanitize } from '../../util/terminal.js';
import { DEVICE_STATES, type DeviceRow, type FleetReport, TARGET_STATUSES } from './report-model.js';

const MAX_CELL = 60;

function cell(s: string | undefined): string {
  const t = sanitize(s ?? '');
  return t.length > MAX_CELL ? `${t.slice(0, MAX_CELL - 1)}…` : t;
}

/** Lay out rows as columns separated by two spaces. */
export function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The per-device columns, shared by table and CSV. */
const DEVICE_COLUMNS: Array<[string, (d: DeviceRow) => string | undefined]> = [
  ['device', (d) => d.deviceId],
  ['site', (d) => d.site],
  ['compatible', (d) => d.compatible],
  ['state', (d) => d.state],
  ['running', (d) => d.running],
  ['pending', (d) => d.pending],
  ['drifted', (d) => (d.drifted === undefined ? '' : d.drifted ? 'yes' : 'no')],
  ['last seen', (d) => d.lastSeen],
  ['receipts', (d) => String(d.receipts)],
  ['excluded', (d) => String(d.excluded)],
  ['reason', (d) => d.reason],
];

function header(r: FleetReport): string[] {
  const trust = r.enrolmentChecked ? 'signatures and enrolment checked' : 'signatures checked; enrolment NOT checked (no --device-ca)';
  const ex = Object.entries(r.receipts.excluded).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`);
  return [
    `fleet report ${r.generatedAt}${r.since ? ` (receipts since ${r.since})` : ''}: ${r.devices.length} device(s), ${r.receipts.counted} of ${r.receipts.total} receipt(s) counted; ${trust}${r.acceptUnsigned ? '; unsigned receipts counted' : ''}`,
    ...(ex.length ? [`left out: ${ex.join(', ')}`] : []),
  ];
}

/** The report as lines for a terminal. */
export function reportTable(r: FleetReport): string[] {
  const out = header(r);
  if (r.campaign) {
    out.push('', `campaign ${cell(r.campaign.name)}:`);
    out.push(...columns([['target', 'compatible', ...TARGET_STATUSES], ...r.campaign.targets.map((t) => [cell(t.updateId), cell(t.compatible.join(',')), ...TARGET_STATUSES.map((s) => String(t.counts[s]))])]).map((l) => `  ${l}`));
  }
  out.push('', 'sites:');
  out.push(...columns([['site', 'devices', ...DEVICE_STATES, 'visits'], ...r.sites.map((s) => [cell(s.site), String(s.devices), ...DEVICE_STATES.map((st) => String(s.states[st])), String(s.visits)])]).map((l) => `  ${l}`));
  out.push('', 'devices:');
  out.push(...columns([DEVICE_COLUMNS.map(([h]) => h), ...r.devices.map((d) => DEVICE_COLUMNS.map(([, f]) => cell(f(d))))]).map((l) => `  ${l}`));
  out.push('', `devices that need a visit: ${r.visits.length}`);
  out.push(...r.visits.map((v) => `  ${cell(v.deviceId)} (${cell(v.site)}): ${sanitize(v.why)}`));
  if (r.excluded.length > 0) {
    out.push('', `receipts left out of the counts: ${r.excluded.length + r.excludedNotListed}`);
    out.push(...r.excluded.map((x) => `  ${cell(x.deviceId)} ${cell(x.stamp)} ${cell(x.action)}: ${x.verdict}: ${sanitize(x.why)}`));
    if (r.excludedNotListed > 0) out.push(`  … and ${r.excludedNotListed} more`);
  }
  return out;
}

function csvCell(s: string | undefined): string {
  let t = sanitize(s ?? '');
  if (/^[=+\-@]/.test(t)) t = `'${t}`;
  return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

/** The report as CSV: one row per device, with a header row. */
export function reportCsv(r: FleetReport): string {
  const rows = [DEVICE_COLUMNS.map(([h]) => h).concat('visit'), ...r.devices.map((d) => DEVICE_COLUMNS.map(([, f]) => f(d) ?? '').concat(d.visit ?? ''))];
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
