/** Screen 1, Device: what runs (and whether it is settled), each slot, the way back, clocks, receipts. */
import { type DriftView, driftLines } from '../drift-view.js';
import type { DeviceInfo, SlotInfo } from '../engine-types.js';
import { cell, fit, formatInstant, wrap } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState, Glyphs } from '../state.js';
import { engineWord, fmt, reasonText, type Strings } from '../strings.js';
import { errorLines, errorStatus, kv, kvWrap, versionName } from './common.js';

/** The running slot's unsettled state in one sentence (pending: on trial; bad: marked bad), or '' when it is committed. */
export function attentionText(info: DeviceInfo, s: Strings): string {
  const run = info.slots.find((x) => x.booted);
  if (!info.attention || !run) return '';
  return fmt(run.status === 'pending' ? s.ui.attnPending : s.ui.attnBad, { v: run.version ?? s.ui.unknownVersion, slot: run.name });
}

/** Why there is no way back, in words. */
export function noWayBack(info: DeviceInfo, s: Strings): string {
  return info.rollback.ok ? '' : reasonText(s, info.rollback.why);
}

/** The bootloader's view of a slot in words: a pending slot is on trial, never "good". */
export function bootWords(sl: SlotInfo, s: Strings): string {
  if (sl.bootGood === undefined) return '-';
  if (!sl.bootGood) return s.ui.bootNever;
  if (sl.status === 'pending') return fmt(s.ui.bootTrial, { n: sl.attemptsLeft ?? '?' });
  if (sl.status === 'empty') return s.ui.bootFactory;
  return s.ui.bootOk;
}

/** Column widths for the slot table: Version takes what is left. */
function slotCols(width: number): [number, number, number, number] {
  const boot = 23;
  const installed = width >= 78 ? 18 : 0;
  return [5, 9, Math.max(8, width - 5 - 9 - boot - installed), boot];
}

function slotRow(sl: SlotInfo, s: Strings, width: number): Line {
  const [a, b, c, d] = slotCols(width);
  const text = cell(`${sl.name}${sl.booted ? ' *' : ''}`, a) + cell(engineWord(s, 'status', sl.status), b) + cell(sl.version ?? '-', c) + cell(bootWords(sl, s), d) + (width >= 78 ? formatInstant(sl.installedAt) : '');
  return line(fit(text, width), sl.booted ? 'bold' : 'normal');
}

/** Device clock against trusted time, in words. */
export function clockLine(info: DeviceInfo, s: Strings): string {
  const clock = Date.parse(info.clock);
  const trusted = info.trustedTime === undefined ? NaN : Date.parse(info.trustedTime);
  const t = formatInstant(info.clock);
  if (Number.isNaN(trusted)) return fmt(s.ui.clockNoTrusted, { t });
  if (clock + 60_000 < trusted) return fmt(s.ui.clockBehind, { t, trusted: formatInstant(info.trustedTime) });
  return fmt(s.ui.clockOk, { t });
}

/** The warning block when the running slot is pending or bad: what it is, the health check, the two choices. */
export function attentionLines(info: DeviceInfo, s: Strings, g: Glyphs, width: number): Line[] {
  const run = info.slots.find((x) => x.booted);
  if (!info.attention || !run) return [];
  const out: Line[] = [line(fit(`! ${attentionText(info, s)}`, width), 'inverse')];
  const failed = info.markGood.failedCheck;
  // The recorded error and the health check's own output are shown as they are: evidence, not ferry's words.
  const why = run.lastError ? `[${run.lastError.code}] ${run.lastError.message}` : '-';
  const check = failed ? `${g.no} ${s.ui.healthFailed}: ${failed.message}` : run.status === 'pending' ? s.ui.healthNotRun : why;
  out.push(...wrap(`${s.ui.labelHealth}: ${check}`, width - 2).map((t) => line('  ' + t)));
  const back = info.rollback.ok ? fmt(s.ui.choiceBack, { v: info.rollback.version ?? s.ui.unknownVersion }) : `${s.ui.choiceNoBack}: ${noWayBack(info, s)}`;
  out.push(line(fit(`  g ${s.ui.choiceKeep}`, width), 'bold'), ...wrap(`${info.rollback.ok ? 'b ' : ''}${back}`, width - 2).map((t) => line('  ' + t, 'bold')));
  return out;
}

function lastText(info: DeviceInfo, s: Strings): string {
  const last = info.lastResult;
  if (last === undefined) return s.ui.noneYet;
  return `${engineWord(s, 'action', last.action)}${last.version ? ' ' + last.version : ''}: ${last.ok ? s.ui.resultOk : s.ui.resultFailed}${last.code ? ` [${last.code}]` : ''}${last.at ? ' ' + fmt(s.ui.atTime, { t: formatInstant(last.at) }) : ''}`;
}

/** Lines for a loaded device. */
export function deviceLines(info: DeviceInfo, s: Strings, g: Glyphs, width: number, height = Infinity, drift?: DriftView): Line[] {
  const booted = info.slots.find((x) => x.name === info.bootedSlot);
  const [a, b, c, d] = slotCols(width);
  const bc = info.lastBootCheck;
  const rb = info.operatorRollback;
  const lines: Line[] = [
    ...attentionLines(info, s, g, width),
    kv(s.ui.labelDevice, `${info.deviceId}  (${info.compatible})`, width),
    line(fit(`${s.ui.labelRunning.padEnd(12)}${fmt(s.ui.runningText, { slot: info.bootedSlot, v: versionName(s, booted?.version, booted?.status), status: booted ? engineWord(s, 'status', booted.status) : '?' })}`, width), 'bold'),
    line(fit(cell(s.ui.colSlot, a) + cell(s.ui.colStatus, b) + cell(s.ui.colVersion, c) + cell(s.ui.colBoot, d) + (width >= 78 ? s.ui.colInstalled : ''), width), 'inverse'),
    ...info.slots.map((sl) => slotRow(sl, s, width)),
    ...driftLines(drift, s, width),
    ...kvWrap(s.ui.labelGoBack, info.rollback.ok ? fmt(s.ui.goBackTo, { v: versionName(s, info.rollback.version, 'good'), slot: info.rollback.slot }) : `${s.ui.none}: ${noWayBack(info, s)}`, width),
  ];
  if (rb) lines.push(...kvWrap(s.ui.labelRolledBack, fmt(s.ui.rolledBackText, { at: formatInstant(rb.at), from: rb.fromVersion ?? s.ui.unknownVersion, to: rb.toVersion ?? s.ui.unknownVersion }), width));
  // Which version the last boot check judged: after a reboot into a new one it is still the old one until the check runs.
  lines.push(...kvWrap(s.ui.labelBootCheck, bc ? `${bc.ok ? g.ok : g.no} ${bc.ok ? s.ui.bootCheckPassed : `${s.ui.healthFailed}${bc.code ? ` [${bc.code}]` : ''}`}${bc.version ? ` (${bc.version})` : ''}, ${formatInstant(bc.at)}` : s.ui.noneYet, width));
  lines.push(...kvWrap(s.ui.labelLast, lastText(info, s), width));
  const boot = info.bootloaderError === undefined ? info.bootloader.split(' ')[0]! : fmt(s.engine.bootloaderUnreadable, { describe: info.bootloader.split(' ')[0]!, error: info.bootloaderError });
  lines.push(...kvWrap(s.ui.labelBootOrder, `${info.bootOrder.join(' ')}   (${boot}; ${s.ui.bootOrderHint})`, width));
  lines.push(...kvWrap(s.ui.labelClock, clockLine(info, s), width));
  lines.push(kv(s.ui.labelFloor, info.counterFloor === undefined ? s.ui.floorNone : info.floorVersion ? fmt(s.ui.floorVersion, { v: info.floorVersion }) : s.ui.floorSet, width));
  lines.push(kv(s.ui.labelReceipts, info.pendingReceipts === 0 ? s.ui.receiptsNone : fmt(s.ui.receiptsWaiting, { n: info.pendingReceipts }), width));
  if (!info.attention) lines.push(blank, line(fit(s.ui.deviceHint, width), 'dim'));
  // On a small terminal the least needed lines give way (d shows everything).
  for (const label of ['', s.ui.deviceHint, s.ui.labelBootOrder, s.ui.labelClock, s.ui.labelLast, s.ui.labelFiles]) {
    if (lines.length <= height) break;
    const i = lines.findIndex((l) => (label === '' ? l.text === '' : l.text.startsWith(label)));
    // A wrapped line takes its continuation lines (indented under the value) with it.
    let n = 1;
    while (i >= 0 && label !== '' && lines[i + n]?.text.startsWith(' '.repeat(12))) n++;
    if (i >= 0) lines.splice(i, n);
  }
  return lines;
}

/** The key bar: only the actions that apply now. */
export function deviceKeys(info: DeviceInfo | undefined, s: Strings): string {
  const keys: string[] = [];
  if (info?.attention) keys.push(s.ui.keyKeep);
  if (info?.rollback.ok) keys.push(s.ui.keyGoBack);
  return [...keys, s.ui.keysDevice].join('  ');
}

/** Screen 1. */
export function deviceFrame(st: AppState, s: Strings, size: Size): Frame {
  const g: Glyphs = st.glyphs;
  const d = st.device;
  const lines: Line[] = d.info ? deviceLines(d.info, s, g, size.width, size.height, d.drift) : d.error ? errorLines(d.error, s, g, size.width) : [line(s.ui.loading)];
  return { title: s.ui.screenDevice, lines, keys: deviceKeys(d.info, s), ...(d.error && d.info ? { status: errorStatus(d.error, s, g, size.width) } : {}) };
}
