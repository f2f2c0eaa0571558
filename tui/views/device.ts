/** Screen 1, Device: what runs, what each slot holds, the last result, clocks, receipts. */
import type { DeviceInfo, SlotInfo } from '../engine-types.js';
import { cell, fit, formatInstant } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState, Glyphs } from '../state.js';
import type { Strings } from '../strings.js';
import { errorLines, errorStatus, kv } from './common.js';

/** The slot table row. */
function slotRow(sl: SlotInfo, width: number): Line {
  const boot = sl.bootGood === undefined ? '-' : `${sl.bootGood ? 'good' : 'not good'}${sl.attemptsLeft !== undefined ? `, ${sl.attemptsLeft} left` : ''}`;
  const text = cell(`${sl.name}${sl.booted ? ' *' : ''}`, 5) + cell(sl.status, 9) + cell(sl.version ?? '-', 11) + cell(sl.counter === undefined ? '-' : String(sl.counter), 15) + cell(boot, 15) + formatInstant(sl.installedAt);
  return line(fit(text, width), sl.booted ? 'bold' : 'normal');
}

/** Device clock against trusted time, in words. */
export function clockLine(info: DeviceInfo): string {
  const clock = Date.parse(info.clock);
  const trusted = info.trustedTime === undefined ? NaN : Date.parse(info.trustedTime);
  const base = `device ${formatInstant(info.clock)}`;
  if (Number.isNaN(trusted)) return `${base}, no trusted time yet`;
  if (clock + 60_000 < trusted) return `${base}, BEHIND trusted ${formatInstant(info.trustedTime)} (trusted time is used)`;
  return `${base}, trusted ${formatInstant(info.trustedTime)}`;
}

/** Lines for a loaded device. */
export function deviceLines(info: DeviceInfo, width: number): Line[] {
  const booted = info.slots.find((s) => s.name === info.bootedSlot);
  const last = info.lastResult;
  const lastText = last === undefined ? 'none yet' : `${last.action}${last.version ? ' ' + last.version : ''}: ${last.ok ? 'ok' : 'FAILED'}${last.code ? ` [${last.code}]` : ''}${last.at ? ' at ' + formatInstant(last.at) : ''}`;
  return [
    kv('Device', `${info.deviceId}  (${info.compatible})`, width),
    line(fit(`Running     slot ${info.bootedSlot}, version ${booted?.version ?? 'unknown'}${booted?.counter !== undefined ? ` (counter ${booted.counter})` : ''}`, width), 'bold'),
    blank,
    line(fit(cell('Slot', 5) + cell('Status', 9) + cell('Version', 11) + cell('Counter', 15) + cell('Boot', 15) + 'Installed', width), 'inverse'),
    ...info.slots.map((sl) => slotRow(sl, width)),
    blank,
    kv('Boot order', `${info.bootOrder.join(' ')}   (${info.bootloader})`, width),
    kv('Last result', lastText, width),
    ...(last && !last.ok && last.message ? [line(fit('            ' + last.message, width), 'dim')] : []),
    kv('Clock', clockLine(info), width),
    kv('Floor', info.counterFloor === undefined ? '-' : `counter ${info.counterFloor} (older updates are refused)`, width),
    kv('Receipts', info.pendingReceipts === 0 ? 'none waiting' : `${info.pendingReceipts} waiting for a writable stick`, width),
  ];
}

/** Screen 1. */
export function deviceFrame(st: AppState, s: Strings, size: Size): Frame {
  const g: Glyphs = st.glyphs;
  const d = st.device;
  const lines: Line[] = d.info ? deviceLines(d.info, size.width) : d.error ? errorLines(d.error, s, g, size.width) : [line(s.ui.loading)];
  return { title: s.ui.screenDevice, lines, keys: s.ui.keysDevice, ...(d.error && d.info ? { status: errorStatus(d.error, s, g, size.width) } : {}) };
}
