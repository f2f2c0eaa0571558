/** Screen 2, the updates on the stick: one row each, ✓ or the reason it cannot be installed. */
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import type { UpdateEntry } from '../engine-types.js';
import { cell, fit, formatBytes, formatDate, wrap, wrapOrMore } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState, Glyphs, UiError } from '../state.js';
import { explainError, fmt, type Strings } from '../strings.js';
import { errorDetail, errorLines, receiptWaitText } from './common.js';

/** A short column word for why an update is not applicable. */
export function shortReason(code: ErrorCode | string, s: Strings): string {
  const w = s.ui;
  switch (code) {
    case 'INCOMPATIBLE_DEVICE':
    case 'PLATFORM_NOT_FOUND':
    case 'WRONG_TARGET':
      return w.reasonIncompatible;
    case 'DOWNGRADE_REFUSED':
      return w.reasonOlder;
    case 'ALREADY_INSTALLED':
      return w.reasonInstalled;
    case 'MANIFEST_EXPIRED':
    case 'CERT_EXPIRED':
      return w.reasonExpired;
    case 'CERT_NOT_YET_VALID':
    case 'NOT_YET_ROLLED_OUT':
      return w.reasonNotYet;
    case 'UNTRUSTED_SIGNER':
    case 'SIGNATURE_MISSING':
    case 'SIGNATURE_INVALID':
    case 'MALFORMED_SIGNATURE':
    case 'CERT_REVOKED':
    case 'SIGNER_NOT_CODE_SIGNING':
    case 'NOT_ENOUGH_SIGNERS':
      return w.reasonUntrusted;
    case 'REQUIREMENT_NOT_MET':
      return w.reasonNeedsOlder;
    case 'UPDATE_PENDING':
      return w.reasonPending;
    case 'NO_SPACE':
      return w.reasonNoSpace;
    default: {
      // Only what is really wrong with the stick is "damaged"; device-side refusals say so.
      const exit = (ERROR_CODES as Record<string, number>)[code];
      return exit === 5 || exit === 3 ? w.reasonDamaged : w.reasonCannot;
    }
  }
}

/** The key of a kept verify verdict. */
export function verdictKey(root: string, id: string): string {
  return `${root}\n${id}`;
}

/** The problem shown for an update: the engine's refusal, or a failed verify of this stick. */
export function problemOf(u: UpdateEntry, root: string | undefined, verdicts: Record<string, UiError>): UiError | undefined {
  return u.problem ?? (root === undefined ? undefined : verdicts[verdictKey(root, u.id)]);
}

/** Column widths: the Status column always stays; the id takes what is left; signer and expiry go first on narrow terminals. */
function cols(width: number): { id: number; size: number; signer: number; expires: number; status: number } {
  const status = 23;
  const size = 10;
  const expires = width >= 76 ? 12 : 0;
  const signer = width >= 70 ? Math.min(18, width - 2 - status - size - expires - 14) : 0;
  return { id: Math.max(10, width - 2 - status - size - expires - signer), size, signer, expires, status };
}

/** One row of the update table. */
export function updateRow(u: UpdateEntry, g: Glyphs, width: number, selected: boolean, problem: UiError | undefined, s: Strings): Line {
  const c = cols(width);
  const verifyFailed = problem !== undefined && problem !== u.problem;
  const status = problem ? `${g.no} ${verifyFailed ? s.ui.reasonVerifyFailed : shortReason(problem.code, s)}` : `${g.ok} ${s.ui.ready}`;
  const text =
    (selected ? '> ' : '  ') +
    cell(u.id, c.id) +
    cell(u.sizeBytes === undefined ? '?' : formatBytes(u.sizeBytes), c.size) +
    (c.signer ? cell(u.signer ?? (u.problem ? s.ui.signerUnverified : '-'), c.signer) : '') +
    (c.expires ? cell(formatDate(u.expires), c.expires) : '') +
    status;
  return line(fit(text, width), selected ? 'inverse' : 'normal');
}

/** Details of the selected update, under the table. */
function detailLines(u: UpdateEntry, problem: UiError | undefined, chosen: boolean, s: Strings, g: Glyphs, width: number, room: number): Line[] {
  const out: Line[] = wrap(`${u.id}: ${fmt(s.ui.updateSummary, { v: u.version, created: formatDate(u.created) })}${chosen ? `  (${s.ui.engineChoice})` : ''}`, width).map((t) => line(t, 'bold'));
  if (problem) {
    const help = explainError(s, problem.code);
    out.push(...wrap(`${g.no} ${help.what} [${problem.code}]`, width).map((t) => line(t, 'bold')));
    out.push(...wrap(`${s.ui.next}: ${help.next}`, width - 2).map((t) => line(`  ${t}`)));
    out.push(...wrapOrMore(errorDetail(problem, s), width - 2, Math.max(1, room - out.length), `(${s.ui.moreOnD})`).map((t) => line('  ' + t, 'dim')));
  } else {
    out.push(line(fit(`${g.ok} ${s.ui.canInstall}`, width)));
    if (u.notes) out.push(...wrapOrMore(u.notes, width - 2, Math.max(1, room - out.length), `(${s.ui.moreOnD})`).map((t) => line('  ' + t, 'dim')));
  }
  return out.slice(0, Math.max(2, room));
}

function headLines(st: AppState, s: Strings, w: number): Line[] {
  const m = st.media;
  const root = m.roots[m.rootIndex];
  const out = wrap(`${s.ui.labelStick}  ${root ?? s.ui.noneFound}${m.roots.length > 1 ? `   (${fmt(s.ui.stickOf, { i: m.rootIndex + 1, n: m.roots.length })})` : ''}`, w).map((t) => line(t, 'bold'));
  const k = m.listing?.root === root ? m.listing?.stick : undefined;
  if (k) {
    const parts = [k.label, k.device, k.fsType, k.sizeBytes !== undefined ? fmt(s.ui.stickSize, { size: formatBytes(k.sizeBytes), free: formatBytes(k.freeBytes ?? 0) }) : undefined, k.readOnly ? s.ui.stickReadOnly : s.ui.stickWritable];
    out.push(...wrap(`       ${parts.filter(Boolean).join(', ')}`, w).map((t) => line(t)));
  }
  if (m.switchNotice) out.push(...wrap(fmt(s.ui.stickSwitched, { gone: m.switchNotice.gone, next: m.switchNotice.next }), w).map((t) => line(t, 'bold')));
  const dl = m.delivered;
  if (dl && dl.root === root && (dl.written.length > 0 || dl.problem)) {
    out.push(...wrapOrMore(dl.written.length > 0 ? fmt(s.ui.receiptsDelivered, { n: dl.written.length }) : `${s.ui.receiptsNotDelivered}: ${receiptWaitText(s, dl.problem)}`, w, 2, `(${s.ui.moreOnD})`).map((t) => line(t, 'dim')));
  }
  return out;
}

/** Screen 2. */
export function mediaFrame(st: AppState, s: Strings, size: Size): Frame {
  const m = st.media;
  const g = st.glyphs;
  const w = size.width;
  const root = m.roots[m.rootIndex];
  const head = headLines(st, s, w);
  const keys = m.switchNotice ? s.ui.keysSwitch : s.ui.keysMedia;
  if (m.loading) return { title: s.ui.screenMedia, lines: [...head, blank, line(s.ui.loading)], keys };
  const err = m.error ?? m.listing?.problem;
  if (err) return { title: s.ui.screenMedia, lines: [...head, blank, ...errorLines(err, s, g, w)], keys };
  const ups = m.listing?.updates ?? [];
  if (ups.length === 0) return { title: s.ui.screenMedia, lines: [...head, blank, ...errorLines({ code: 'NO_APPLICABLE_UPDATE', message: s.engine.msgNoUpdates }, s, g, w)], keys };
  const c = cols(w);
  const tableHead = line(fit('  ' + cell(s.ui.colUpdate, c.id) + cell(s.ui.colSize, c.size) + (c.signer ? cell(s.ui.colSigner, c.signer) : '') + (c.expires ? cell(s.ui.colExpires, c.expires) : '') + s.ui.colStatus, w), 'inverse');
  // Keep the table short enough that the selected update's details always fit below it.
  const detailRoom = size.height >= 20 ? 6 : 5;
  const maxRows = Math.max(2, size.height - head.length - 2 - detailRoom);
  const sel = Math.min(m.selected, ups.length - 1);
  const first = Math.max(0, Math.min(sel - Math.floor(maxRows / 2), ups.length - maxRows));
  const rows = ups.slice(first, first + maxRows).map((u, i) => updateRow(u, g, w, first + i === sel, problemOf(u, root, m.verdicts), s));
  const more = ups.length > maxRows ? [line(fit(`  ${fmt(s.ui.moreUpdates, { n: ups.length })}`, w), 'dim')] : [];
  const u = ups[sel]!;
  const detail = detailLines(u, problemOf(u, root, m.verdicts), m.listing?.chosenId === u.id, s, g, w, size.height - head.length - 2 - rows.length - more.length);
  const lines = [...head, tableHead, ...rows, ...more, blank, ...detail];
  return { title: s.ui.screenMedia, lines, focusLine: head.length + 1 + (sel - first), keys };
}
