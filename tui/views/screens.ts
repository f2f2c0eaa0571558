/** Screens 4 and 6: confirm and done. */
import { chunk, fit, formatBytes, formatDuration, wrap, wrapOrMore } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState } from '../state.js';
import { fmt, type Strings } from '../strings.js';
import { buttons, errorLines, errorStatus, kv, kvWrap, receiptWaitText, versionName } from './common.js';

/** Screen 4: current → new, the slot's room, bytes, a time estimate, notes, and an explicit Install button. */
export function confirmFrame(st: AppState, s: Strings, size: Size): Frame {
  const c = st.confirm!;
  const p = c.plan;
  const g = st.glyphs;
  const w = size.width;
  const room = p.availableBytes === undefined ? s.ui.freeUnknown : fmt(s.ui.slotRoom, { free: formatBytes(p.availableBytes), need: formatBytes(p.neededBytes ?? p.bytesToWrite) });
  const est = st.readRate && st.readRate > 0 ? fmt(s.ui.estimate, { t: formatDuration(p.bytesToWrite / st.readRate), rate: (st.readRate / 1e6).toFixed(1) }) : s.ui.estimateUnknown;
  const head: Line[] = [
    kv(s.ui.labelCurrent, `${versionName(s, p.fromVersion, 'good')}  (${s.ui.currentNote})`, w),
    line(fit(`${s.ui.labelNew.padEnd(12)}${p.toVersion}  ${g.arrow} ${fmt(s.ui.slotName, { slot: p.targetSlot })}${p.slotDescribe ? ` (${p.slotDescribe})` : ''}`, w), 'bold'),
    kv(s.ui.labelSlot, room, w),
    ...kvWrap(s.ui.labelWrite, `${p.incremental ? fmt(s.ui.writeIncremental, { n: formatBytes(p.incremental.changedBytes), of: formatBytes(p.incremental.totalBytes) }) : formatBytes(p.bytesToWrite)}, ${est}`, w),
    kv(s.ui.labelSignedBy, p.signers.join(', ') || '?', w),
    line(fit(`${s.ui.labelNotes} (d ${s.ui.notesAll}):`, w)),
  ];
  const tail: Line[] = [blank, line(fit(fmt(s.ui.confirmQuestion, { v: p.toVersion, slot: p.targetSlot }), w)), buttons([s.ui.btnBack, s.ui.btnInstall], c.focus, w)];
  const free = Math.max(1, size.height - head.length - tail.length);
  const notes = wrapOrMore(p.notes ?? s.ui.noneParen, w - 2, free, `(${s.ui.moreOnD})`).map((t) => line('  ' + t));
  return { title: s.ui.screenConfirm, lines: [...head, ...notes, ...tail], focusLine: head.length + notes.length + tail.length - 1, keys: s.ui.keysConfirm };
}

/** Screen 6: installed, what happens next, the receipt, reboot now or later. */
export function doneFrame(st: AppState, s: Strings, size: Size): Frame {
  const d = st.done!;
  const o = d.outcome;
  const g = st.glyphs;
  const w = size.width;
  const lines: Line[] = [];
  if (d.lateCancel) lines.push(...wrap(`${g.no} ${s.ui.lateCancel}`, w).map((t) => line(t, 'bold')));
  lines.push(line(fit(`${g.ok} ${fmt(s.ui.installed, { v: o.version, slot: o.slot })}`, w), 'bold'));
  lines.push(...wrap(fmt(s.ui.afterApply, { v: o.version, n: o.attempts ?? '?' }), w - 2).map((t) => line('  ' + t)));
  lines.push(blank);
  if (o.receiptPath) {
    lines.push(kv(s.ui.labelReceipt, `${g.ok} ${s.ui.receiptOnStick}`, w), ...chunk(o.receiptPath, w - 12).map((t) => line('            ' + t)));
    lines.push(line(fit(`  ${s.ui.removeStick}`, w)));
  } else {
    lines.push(...wrap(`${s.ui.labelReceipt.padEnd(12)}${g.no} ${s.ui.receiptNotOnStick}: ${receiptWaitText(s, o.receiptWait)}`, w, 2).map((t) => line(t)));
    lines.push(line(fit(`  ${s.ui.keepStick}`, w)));
  }
  lines.push(blank);
  lines.push(line(fit(d.rebootSent ? s.ui.rebootSent : d.rebooting ? s.ui.rebooting : s.ui.rebootAsk, w), 'bold'));
  if (d.error) lines.push(blank, ...errorLines(d.error, s, g, w));
  return { title: s.ui.screenDone, lines, keys: d.rebooting || d.rebootSent ? s.ui.keysLog : s.ui.keysDone, ...(d.error ? { status: errorStatus(d.error, s, g, w) } : {}) };
}
