/** Screen 7: go back to the other slot, or keep (mark good) the running one; only what the engine allows. */
import { fit, wrap } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { MaintenanceOutcome } from '../engine-types.js';
import type { AppState } from '../state.js';
import { fmt, reasonText, type Strings } from '../strings.js';
import { buttons, errorLines, errorStatus, floorRiseText, receiptWaitText } from './common.js';

/** What a keep or go-back did, in the technician's words. */
export function maintResultText(o: MaintenanceOutcome, s: Strings): string {
  const unknown = s.ui.unknownVersion;
  if (o.action === 'rollback') return fmt(s.engine.wentBack, { from: o.from?.version ?? unknown, fromSlot: o.from?.slot ?? '?', to: o.version ?? unknown, toSlot: o.slot });
  const floor = floorRiseText(s, o);
  return fmt(o.forced ? s.engine.keptForced : s.engine.keptDone, { v: o.version ?? unknown, slot: o.slot }) + (floor ? `; ${floor}` : '');
}

/** Where the receipt of a keep or go-back went, or why it waits. */
function receiptText(o: MaintenanceOutcome, s: Strings): string {
  return o.receiptPath ?? fmt(s.ui.receiptWaits, { why: receiptWaitText(s, o.receiptWait) });
}

function para(text: string, w: number, style: 'bold' | 'normal' = 'normal'): Line[] {
  return wrap(text, w).map((t) => line(t, style));
}

function rollbackLines(st: AppState, s: Strings, w: number): { lines: Line[]; can: boolean } {
  const info = st.maint?.info ?? st.device.info;
  const run = info?.slots.find((x) => x.booted);
  const opt = info?.rollback;
  if (!opt || !opt.ok) return { lines: [...para(`${st.glyphs.no} ${s.ui.noRollback}`, w, 'bold'), ...para(opt && !opt.ok ? reasonText(s, opt.why) : '?', w)], can: false };
  const lines = para(fmt(s.ui.rollbackQuestion, { v: opt.version ?? '?', slot: opt.slot }), w, 'bold');
  lines.push(...para(run?.status === 'pending' ? fmt(s.ui.rollbackRejects, { v: run.version ?? '?' }) : fmt(s.ui.rollbackKeeps, { v: run?.version ?? '?' }), w));
  return { lines, can: true };
}

function markGoodLines(st: AppState, s: Strings, w: number): Line[] {
  const info = st.maint?.info ?? st.device.info;
  const run = info?.slots.find((x) => x.booted);
  const risk = info?.markGood;
  const lines = para(fmt(s.ui.keepQuestion, { v: run?.version ?? '?', slot: run?.name ?? '?' }), w, 'bold');
  if (risk?.failedCheck) {
    lines.push(...para(`${st.glyphs.no} ${s.ui.healthFailed}${risk.failedCheck.at ? ` (${risk.failedCheck.at.slice(0, 16).replace('T', ' ')}Z)` : ''}: ${risk.failedCheck.message}`, w, 'bold'));
  } else lines.push(...para(run?.status === 'pending' ? s.ui.healthNotRun : s.ui.healthNoFailure, w));
  const floor = floorRiseText(s, risk);
  lines.push(...para(floor ? `${s.ui.floorWarn}: ${floor}.` : s.ui.keepNote, w));
  if (m2(st)) lines.push(blank, ...para(s.ui.secondQuestion, w, 'bold'));
  return lines;
}

const m2 = (st: AppState): boolean => st.maint?.second === true;

/** Screen 7. */
export function maintFrame(st: AppState, s: Strings, size: Size): Frame {
  const m = st.maint!;
  const g = st.glyphs;
  const w = size.width;
  const rb = m.action === 'rollback' ? rollbackLines(st, s, w) : undefined;
  const lines: Line[] = rb ? rb.lines : markGoodLines(st, s, w);
  lines.push(blank);
  let keys = s.ui.keysMaint;
  if (m.result) {
    lines.push(...para(`${g.ok} ${maintResultText(m.result, s)}`, w, 'bold'));
    lines.push(...para(`${s.ui.labelReceipt}: ${receiptText(m.result, s)}`, w));
    const reboot = m.rebooting === 'sent' ? s.ui.rebootSent : m.rebooting === 'asked' ? s.ui.rebooting : m.action === 'rollback' ? s.ui.rebootToGoBack : '';
    if (reboot) lines.push(line(fit(reboot, w), 'bold'));
    keys = m.action === 'rollback' && !m.rebooting ? s.ui.keysDone : s.ui.keysBack;
  } else if (m.error) {
    lines.push(...errorLines(m.error, s, g, w));
    keys = s.ui.keysErrorDetail;
  } else if (m.busy) lines.push(line(s.ui.working));
  else if (rb && !rb.can) keys = s.ui.keysBack;
  else {
    const label = m.action === 'rollback' ? s.ui.btnGoBack : m.second ? s.ui.btnKeepAnyway : s.ui.btnKeep;
    lines.push(fitButtons(buttons([s.ui.btnBack, label], m.focus, w), w));
  }
  return { title: m.action === 'rollback' ? s.ui.screenRollback : s.ui.screenMarkGood, lines, focusLine: lines.length - 1, keys, ...(m.error ? { status: errorStatus(m.error, s, g, w) } : {}) };
}

function fitButtons(l: Line, w: number): Line {
  return Array.from(l.text).length <= w ? l : line(fit(l.text.trim(), w), 'bold');
}
