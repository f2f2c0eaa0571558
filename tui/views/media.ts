/** Screen 2, the updates on the stick: one row each, ✓ or the reason it cannot be installed. */
import type { ErrorCode } from '../../src/errors.js';
import type { UpdateEntry } from '../engine-types.js';
import { cell, fit, formatBytes, formatDate, wrap } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import type { AppState, Glyphs } from '../state.js';
import { explainError, type Strings } from '../strings.js';
import { errorLines } from './common.js';

/** A short column word for why an update is not applicable. */
export function shortReason(code: ErrorCode | string): string {
  switch (code) {
    case 'INCOMPATIBLE_DEVICE':
    case 'PLATFORM_NOT_FOUND':
      return 'incompatible';
    case 'DOWNGRADE_REFUSED':
      return 'older counter';
    case 'ALREADY_INSTALLED':
      return 'already installed';
    case 'MANIFEST_EXPIRED':
    case 'CERT_EXPIRED':
      return 'expired';
    case 'CERT_NOT_YET_VALID':
    case 'NOT_YET_ROLLED_OUT':
      return 'not yet valid';
    case 'UNTRUSTED_SIGNER':
    case 'SIGNATURE_MISSING':
    case 'SIGNATURE_INVALID':
    case 'MALFORMED_SIGNATURE':
    case 'CERT_REVOKED':
    case 'SIGNER_NOT_CODE_SIGNING':
    case 'NOT_ENOUGH_SIGNERS':
      return 'untrusted';
    case 'REQUIREMENT_NOT_MET':
      return 'needs older first';
    default:
      return 'damaged';
  }
}

const COLS = { id: 20, size: 10, signer: 16, expires: 12 };

/** One row of the update table. */
export function updateRow(u: UpdateEntry, g: Glyphs, width: number, selected: boolean): Line {
  const status = u.problem ? `${g.no} ${shortReason(u.problem.code)}` : `${g.ok} ready`;
  const text =
    (selected ? '> ' : '  ') +
    cell(u.id, COLS.id) +
    cell(u.sizeBytes === undefined ? '?' : formatBytes(u.sizeBytes), COLS.size) +
    cell(u.signer ?? '-', COLS.signer) +
    cell(formatDate(u.expires), COLS.expires) +
    status;
  return line(fit(text, width), selected ? 'inverse' : 'normal');
}

/** Details of the selected update, under the table. */
function detailLines(u: UpdateEntry, s: Strings, g: Glyphs, width: number, room: number): Line[] {
  const out: Line[] = [line(fit(`${u.id}: version ${u.version}, counter ${u.counter ?? '?'}, created ${formatDate(u.created)}`, width), 'bold')];
  if (u.problem) {
    const help = explainError(s, u.problem.code);
    out.push(line(fit(`${g.no} ${help.what} [${u.problem.code}]`, width), 'bold'));
    out.push(...wrap(u.problem.message, width - 2, 2).map((t) => line('  ' + t, 'dim')));
    out.push(line(fit(`  Next: ${help.next}`, width)));
  } else {
    out.push(line(fit(`${g.ok} can be installed: press Enter to verify every byte first`, width)));
    if (u.notes) out.push(...wrap(u.notes, width - 2, Math.max(1, room - out.length)).map((t) => line('  ' + t, 'dim')));
  }
  return out.slice(0, Math.max(2, room));
}

/** Screen 2. */
export function mediaFrame(st: AppState, s: Strings, size: Size): Frame {
  const m = st.media;
  const g = st.glyphs;
  const w = size.width;
  const root = m.roots[m.rootIndex];
  const head = line(fit(`Stick  ${root ?? 'none found'}${m.roots.length > 1 ? `   (${m.rootIndex + 1} of ${m.roots.length}, n next)` : ''}`, w), 'bold');
  if (m.loading) return { title: s.ui.screenMedia, lines: [head, blank, line(s.ui.loading)], keys: s.ui.keysMedia };
  const err = m.error ?? m.listing?.problem;
  if (err) return { title: s.ui.screenMedia, lines: [head, blank, ...errorLines(err, s, g, w)], keys: s.ui.keysMedia };
  const ups = m.listing?.updates ?? [];
  if (ups.length === 0) return { title: s.ui.screenMedia, lines: [head, blank, ...errorLines({ code: 'NO_APPLICABLE_UPDATE', message: 'the stick holds no update manifests (FERRY/updates is empty)' }, s, g, w)], keys: s.ui.keysMedia };
  const tableHead = line(fit('  ' + cell('Update', COLS.id) + cell('Size', COLS.size) + cell('Signer', COLS.signer) + cell('Expires', COLS.expires) + 'Status', w), 'inverse');
  // Keep the table short enough that the selected update's details always fit below it.
  const detailRoom = 6;
  const maxRows = Math.max(3, size.height - 3 - detailRoom);
  const sel = Math.min(m.selected, ups.length - 1);
  const first = Math.max(0, Math.min(sel - Math.floor(maxRows / 2), ups.length - maxRows));
  const rows = ups.slice(first, first + maxRows).map((u, i) => updateRow(u, g, w, first + i === sel));
  const more = ups.length > maxRows ? [line(fit(`  (${ups.length} updates, ↑↓ to see all)`, w), 'dim')] : [];
  const lines = [head, tableHead, ...rows, ...more, blank, ...detailLines(ups[sel]!, s, g, w, size.height - 4 - rows.length - more.length)];
  return { title: s.ui.screenMedia, lines, focusLine: 2 + (sel - first), keys: s.ui.keysMedia };
}
