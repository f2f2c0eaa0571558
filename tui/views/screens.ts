/** Screens 4, 6, 7 and the log: confirm, done, roll back / mark good, log. */
import { chunk, fit, formatBytes, wrap } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState } from '../state.js';
import type { Strings } from '../strings.js';
import { buttons, errorLines, errorStatus, kv } from './common.js';

/** Screen 4: current → new, notes, bytes, slot, and an explicit Install button. */
export function confirmFrame(st: AppState, s: Strings, size: Size): Frame {
  const c = st.confirm!;
  const p = c.plan;
  const g = st.glyphs;
  const w = size.width;
  const head: Line[] = [
    kv('Current', `${p.fromVersion ?? 'unknown'}  (running, stays as fallback)`, w),
    line(fit(`New         ${p.toVersion}  ${g.arrow} slot ${p.targetSlot}${p.slotDescribe ? ` (${p.slotDescribe})` : ''}`, w), 'bold'),
    kv('Write', formatBytes(p.bytesToWrite), w),
    kv('Signed by', p.signers.join(', ') || '?', w),
    blank,
    line('Release notes:'),
  ];
  const tail: Line[] = [blank, line(fit(`Install ${p.toVersion} into slot ${p.targetSlot}? The running system is not touched.`, w)), buttons(['Back', 'Install'], c.focus, w)];
  const room = Math.max(1, size.height - head.length - tail.length);
  const notes = wrap(p.notes ?? '(none)', w - 2, room).map((t) => line('  ' + t));
  return { title: s.ui.screenConfirm, lines: [...head, ...notes, ...tail], focusLine: head.length + notes.length + tail.length - 1, keys: s.ui.keysConfirm };
}

/** Screen 6: installed, receipt, reboot now or later. */
export function doneFrame(st: AppState, s: Strings, size: Size): Frame {
  const d = st.done!;
  const o = d.outcome;
  const g = st.glyphs;
  const w = size.width;
  const lines: Line[] = [
    line(fit(`${g.ok} Installed ${o.version} into slot ${o.slot}.`, w), 'bold'),
    line(fit(`  It will be tried at the next boot; if its check fails the device goes back.`, w)),
    blank,
    o.receiptPath ? kv('Receipt', `${g.ok} written to the stick:`, w) : kv('Receipt', `${g.no} not on the stick: ${o.receiptProblem ?? 'unknown reason'}`, w),
    ...(o.receiptPath
      ? chunk(o.receiptPath, w - 12, 3).map((t) => line('            ' + t))
      : [line(fit('            it waits on the device for the next writable stick', w), 'dim')]),
    blank,
    line(d.rebooting ? 'rebooting…' : 'Reboot now (r) or later (Enter).', 'bold'),
  ];
  if (d.error) lines.push(blank, ...errorLines(d.error, s, g, w));
  return { title: s.ui.screenDone, lines, keys: s.ui.keysDone, ...(d.error ? { status: errorStatus(d.error, s, g, w) } : {}) };
}

/** Screen 7: roll back to the other slot, or mark the running one good. */
export function maintFrame(st: AppState, s: Strings, size: Size): Frame {
  const m = st.maint!;
  const g = st.glyphs;
  const w = size.width;
  const info = st.device.info;
  const booted = info?.slots.find((x) => x.name === info.bootedSlot);
  const other = info?.slots.find((x) => x.name !== info.bootedSlot);
  const question =
    m.action === 'rollback'
      ? [`Roll back to slot ${other?.name ?? '?'} (version ${other?.version ?? 'unknown'}, ${other?.status ?? '?'})?`, 'The next boot starts that slot; this one stays installed as the fallback.']
      : [`Mark the running system good (slot ${booted?.name ?? '?'}, version ${booted?.version ?? 'unknown'})?`, 'It becomes the committed default; the other slot stays as fallback.'];
  const lines: Line[] = question.map((q, i) => line(fit(q, w), i === 0 ? 'bold' : 'normal'));
  lines.push(blank);
  if (m.result) lines.push(line(fit(`${g.ok} ${m.result}`, w), 'bold'));
  else if (m.error) lines.push(...errorLines(m.error, s, g, w));
  else if (m.busy) lines.push(line('working…'));
  else lines.push(buttons(['Back', m.action === 'rollback' ? 'Roll back' : 'Mark good'], m.focus, w));
  return { title: m.action === 'rollback' ? s.ui.screenRollback : s.ui.screenMarkGood, lines, keys: s.ui.keysMaint, ...(m.error ? { status: errorStatus(m.error, s, g, w) } : {}) };
}

/** The log view: newest last; scroll with ↑↓. */
export function logFrame(st: AppState, s: Strings, size: Size): Frame {
  const lines = st.log.length === 0 ? [line('(empty)')] : st.log.map((e) => line(fit(`${e.at.slice(11, 19)} ${e.text}`, size.width)));
  const focus = Math.max(0, lines.length - 1 - st.logScroll);
  return { title: s.ui.screenLog, lines, focusLine: focus, keys: s.ui.keysLog };
}
