/**
 * The fleet report as one self-contained HTML file: inline CSS, inline SVG summary bars, one
 * inline script (report-script.ts) for sorting and filtering, no network (a Content-Security-
 * Policy of default-src 'none' that allows only that script, by hash). Every string from a
 * receipt is escaped and stripped of control characters. Pure.
 */
import { createHash } from 'node:crypto';
import { sanitize } from '../../util/terminal.js';
import { DEVICE_STATES, type DeviceRow, type DeviceStateName, type FleetReport, TARGET_STATUSES, type TargetStatus } from './report-model.js';
import { REPORT_SCRIPT } from './report-script.js';

/** HTML-escape a string from a receipt (also strips terminal controls and bidi overrides). */
export function esc(s: string | number | undefined): string {
  return sanitize(String(s ?? '')).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS: Record<TargetStatus | DeviceStateName, string> = {
  updated: '#2e7d32', running: '#2e7d32', pending: '#f9a825', failed: '#c62828', 'apply-failed': '#c62828', 'health-check-failed': '#e53935',
  'rolled-back': '#6a1b9a', 'not-reached': '#9e9e9e', unverified: '#ef6c00', 'never-seen': '#bdbdbd',
};

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#212121}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse}th,td{border-bottom:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
th[data-key]{cursor:pointer;background:#f5f5f5;user-select:none}th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.bar{margin:.3em 0 1em}.legend span{margin-right:1.2em}.dot{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border-radius:2px}
.st{padding:1px 6px;border-radius:3px;color:#fff;white-space:nowrap}.warn{color:#b71c1c}.muted{color:#757575}
details summary{cursor:pointer}details ol{margin:.3em 0;padding-left:1.4em;font-size:.92em}.filters{margin:.6em 0}.filters>*{margin-right:.8em}`;

function bar<K extends string>(counts: Record<K, number>, keys: readonly K[], label: string): string {
  const total = keys.reduce((n, k) => n + counts[k], 0);
  const W = 640;
  let x = 0;
  const rects = keys.filter((k) => counts[k] > 0).map((k) => {
    const w = total === 0 ? 0 : (counts[k] / total) * W;
    const r = `<rect x="${x.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="22" fill="${COLORS[k as TargetStatus]}"><title>${esc(k)}: ${counts[k]}</title></rect>`;
    x += w;
    return r;
  });
  const legend = keys.map((k) => `<span data-status="${esc(k)}"><i class="dot" style="background:${COLORS[k as TargetStatus]}"></i>${esc(k)} <b>${counts[k]}</b></span>`).join('');
  return `<div class="bar"><svg role="img" aria-label="${esc(label)}" width="${W}" height="22" viewBox="0 0 ${W} 22"><rect width="${W}" height="22" fill="#eeeeee"/>${rects.join('')}</svg><div class="legend">${legend}</div></div>`;
}

function history(d: DeviceRow): string {
  if (d.history.length === 0) return '';
  const items = d.history.map((h) => `<li${h.verdict === 'verified' || h.verdict === 'signed' ? '' : ' class="warn"'}>${esc(h.at)} ${esc(h.action)} ${esc(h.result)}${h.version ? ` ${esc(h.version)}` : ''}${h.verdict === 'verified' || h.verdict === 'signed' ? '' : ` [${esc(h.verdict)}]`}${h.message ? ` <span class="muted">${esc(h.message)}</span>` : ''}</li>`);
  return `<details><summary>history (${d.history.length})</summary><ol>${items.join('')}</ol></details>`;
}

function deviceRow(d: DeviceRow): string {
  const k = [d.deviceId, d.site, d.compatible, d.state, d.running, d.pending, d.reason].filter(Boolean).join(' ').toLowerCase();
  return `<tr data-state="${esc(d.state)}" data-site="${esc(d.site)}" data-k="${esc(k)}"><td data-v="${esc(d.deviceId)}"><b>${esc(d.deviceId)}</b>${history(d)}</td><td>${esc(d.site)}</td><td>${esc(d.compatible)}</td>`
    + `<td data-v="${esc(d.state)}"><span class="st" style="background:${COLORS[d.state]}">${esc(d.state)}</span></td><td>${esc(d.running)}</td><td>${esc(d.pending)}</td>`
    + `<td>${d.drifted === undefined ? '' : d.drifted ? 'yes' : 'no'}</td><td>${esc(d.lastSeen)}</td><td data-v="${d.receipts}">${d.receipts}${d.excluded ? ` <span class="warn">(${d.excluded} left out)</span>` : ''}</td><td>${esc(d.reason)}</td></tr>`;
}

const HEADS: Array<[string, string, string?]> = [
  ['device', 'device'], ['site', 'site'], ['compatible', 'compatible'], ['state', 'state'], ['running', 'running'], ['pending', 'pending'],
  ['drifted', 'drifted'], ['last seen', 'lastSeen'], ['receipts', 'receipts', 'num'], ['reason', 'reason'],
];

function devicesSection(r: FleetReport): string {
  const sites = [...new Set(r.devices.map((d) => d.site))].sort();
  const opts = (xs: readonly string[]) => xs.map((x) => `<option value="${esc(x)}">${esc(x)}</option>`).join('');
  const heads = HEADS.map(([h, key, type]) => `<th data-key="${key}"${type ? ` data-type="${type}"` : ''} aria-sort="none">${h}</th>`).join('');
  return `<h2>Devices (<span id="shown">${r.devices.length}</span> of ${r.devices.length} shown)</h2>
<div class="filters"><input id="q" type="search" placeholder="filter: device, version, reason…" size="32"><select id="state"><option value="">every state</option>${opts(DEVICE_STATES)}</select><select id="site"><option value="">every site</option>${opts(sites)}</select></div>
<table id="devices"><thead><tr>${heads}</tr></thead><tbody>${r.devices.map(deviceRow).join('\n')}</tbody></table>`;
}

function campaignSection(r: FleetReport): string {
  if (!r.campaign) return '';
  const targets = r.campaign.targets.map((t) => `<h3 data-target="${esc(t.updateId)}">${esc(t.updateId)} <span class="muted">(${esc(t.compatible.join(', '))})</span></h3>${bar(t.counts, TARGET_STATUSES, `${t.updateId} progress`)}`);
  return `<h2>Campaign ${esc(r.campaign.name)}</h2>${targets.join('\n')}`;
}

function sitesSection(r: FleetReport): string {
  const rows = r.sites.map((s) => `<tr><td>${esc(s.site)}</td><td>${s.devices}</td>${DEVICE_STATES.map((st) => `<td>${s.states[st]}</td>`).join('')}<td>${s.visits}</td></tr>`);
  return `<h2>Sites</h2><table id="sites"><thead><tr><th>site</th><th>devices</th>${DEVICE_STATES.map((s) => `<th>${s}</th>`).join('')}<th>visits</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function listsSection(r: FleetReport): string {
  const visits = r.visits.map((v) => `<li><b>${esc(v.deviceId)}</b> (${esc(v.site)}): ${esc(v.why)}</li>`);
  const excluded = r.excluded.map((x) => `<li><b>${esc(x.deviceId)}</b> ${esc(x.stamp)} ${esc(x.action)}: <span class="warn">${esc(x.verdict)}</span> ${esc(x.why)}</li>`);
  return `<h2>Devices that need a visit (${r.visits.length})</h2><ul id="visits">${visits.join('')}</ul>`
    + (r.excluded.length ? `<h2>Receipts left out of the counts (${r.excluded.length + r.excludedNotListed})</h2><ul id="excluded">${excluded.join('')}</ul>` : '');
}

/** The report as one self-contained HTML document. */
export function reportHtml(r: FleetReport): string {
  const hash = createHash('sha256').update(REPORT_SCRIPT).digest('base64');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${hash}'`;
  const trust = r.enrolmentChecked ? 'signatures and enrolment checked' : 'signatures checked; enrolment NOT checked (no --device-ca)';
  const states = Object.fromEntries(DEVICE_STATES.map((s) => [s, r.devices.filter((d) => d.state === s).length])) as Record<DeviceStateName, number>;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><meta name="viewport" content="width=device-width">
<title>ferry fleet report ${esc(r.generatedAt)}</title><style>${CSS}</style></head>
<body><h1>ferry fleet report</h1>
<p>${esc(r.generatedAt)}${r.since ? `, receipts since ${esc(r.since)}` : ''}: <b>${r.devices.length}</b> device(s), <b>${r.receipts.counted}</b> of ${r.receipts.total} receipt(s) counted; ${esc(trust)}.</p>
${bar(states, DEVICE_STATES, 'device states')}
${campaignSection(r)}
${listsSection(r)}
${sitesSection(r)}
${devicesSection(r)}
<script>${REPORT_SCRIPT}</script>
</body></html>
`;
}
