/**
 * The full text behind each screen, for the detail view (Enter/d) and help (?):
 * nothing a technician may need is only available cut. Pure: state in, lines out.
 */
import { driftText } from './drift-view.js';
import type { ChainCertificate, DeviceInfo, SignerDetail } from './engine-types.js';
import { formatBytes, formatInstant } from './format.js';
import type { AppState, Overlay, ScreenId, UiError } from './state.js';
import { engineWord, explainError, fmt, type Strings } from './strings.js';
import { errorDetail, floorRiseText, receiptWaitText, versionName } from './views/common.js';
import { attentionText, clockLine, noWayBack } from './views/device.js';
import { logText } from './views/log.js';
import { maintResultText } from './views/maint.js';
import { problemOf } from './views/media.js';

/** One certificate's lines: issuer, serial, validity, SHA-256 fingerprint, indented by `pad`. */
function certLines(c: ChainCertificate, s: Strings, pad: string): string[] {
  return [
    pad + fmt(s.ui.certIssuedBy, { v: c.issuer }),
    pad + fmt(s.ui.certSerial, { v: c.serial }),
    pad + fmt(s.ui.certValidity, { from: formatInstant(c.notBefore), until: formatInstant(c.notAfter) }),
    pad + fmt(s.ui.certFingerprint, { v: c.fingerprint }),
  ];
}

/** Every signer in full: its certificate, signing time, the root it chains to, and the whole chain, certificate by certificate. */
export function signerText(list: SignerDetail[] | undefined, s: Strings): string[] {
  if (!list || list.length === 0) return [];
  return list.flatMap((d, i) => [
    '',
    fmt(s.ui.signerHead, { i: i + 1, n: list.length, subject: d.subject }),
    ...certLines(d, s, '  '),
    '  ' + fmt(s.ui.signedAt, { v: formatInstant(d.signingTime) }),
    '  ' + fmt(s.ui.chainRoot, { v: d.anchor }),
    '  ' + fmt(s.ui.chainHead, { n: d.chain.length }),
    ...d.chain.flatMap((c, k) => [`    ${k + 1}. ${c.subject}`, ...certLines(c, s, '       ')]),
  ]);
}

function errorText(e: UiError, s: Strings): string[] {
  const h = explainError(s, e.code);
  return [`${h.what} [${e.code}]`, `${s.ui.next}: ${h.next}`, '', `${s.engine.labelDetail}: ${errorDetail(e, s)}`];
}

function deviceText(i: DeviceInfo, s: Strings): string[] {
  const out = [`${s.ui.labelDevice}: ${i.deviceId} (${i.compatible})`];
  if (i.attention) out.push('', `! ${attentionText(i, s)}`);
  for (const sl of i.slots) {
    out.push('', fmt(s.ui.detSlot, { slot: sl.name, running: sl.booted ? s.ui.detRunning : '', status: engineWord(s, 'status', sl.status), v: sl.version ?? '-' }));
    if (sl.describe) out.push(`  ${sl.describe}`);
    if (sl.installedAt) out.push('  ' + fmt(s.ui.detInstalled, { t: formatInstant(sl.installedAt) }));
    if (sl.digest) out.push('  ' + fmt(s.ui.detImage, { v: sl.digest }));
    if (sl.bootGood !== undefined) out.push('  ' + fmt(s.ui.detBootloader, { state: sl.bootGood ? s.ui.detBootable : s.ui.detNotBootable, n: sl.attemptsLeft ?? '?' }));
    if (sl.lastError) out.push('  ' + fmt(s.ui.detLastError, { code: sl.lastError.code, at: sl.lastError.at ? ' ' + fmt(s.ui.atTime, { t: formatInstant(sl.lastError.at) }) : '', msg: sl.lastError.message }));
  }
  out.push('', `${s.ui.labelGoBack}: ${i.rollback.ok ? fmt(s.ui.detGoBack, { v: i.rollback.version ?? s.ui.unknownVersion, slot: i.rollback.slot }) : noWayBack(i, s)}`);
  if (i.markGood.failedCheck) out.push(`${s.ui.labelHealth}: ${s.ui.healthFailed}: ${i.markGood.failedCheck.message}`);
  const floor = floorRiseText(s, i.markGood);
  if (floor) out.push(fmt(s.ui.detKeep, { v: floor }));
  const rb = i.operatorRollback;
  if (rb) out.push(`${s.ui.labelRolledBack}: ${fmt(s.ui.detRolledBack, { at: formatInstant(rb.at), from: rb.fromVersion ?? s.ui.unknownVersion, fromSlot: rb.fromSlot, to: rb.toVersion ?? s.ui.unknownVersion, toSlot: rb.toSlot })}`);
  const at = (t: string | undefined) => (t ? ' ' + fmt(s.ui.atTime, { t: formatInstant(t) }) : '');
  // What the device recorded is quoted as it is (its own words: the health check's output, the engine's record).
  const recorded = (m: string | undefined) => (m ? ` ${fmt(s.engine.recordedAs, { msg: m })}` : '');
  const bc = i.lastBootCheck;
  if (bc) out.push(`${s.ui.labelBootCheck}: ${engineWord(s, 'result', bc.result)}${at(bc.at)}${recorded(bc.message)}`);
  const last = i.lastResult;
  if (last) out.push(`${s.ui.labelLast}: ${engineWord(s, 'action', last.action)} ${last.ok ? s.ui.resultOk : s.ui.resultFailed}${last.code ? ` [${last.code}]` : ''}${at(last.at)}${recorded(last.message)}`);
  const boot = i.bootloaderError === undefined ? i.bootloader : fmt(s.engine.bootloaderUnreadable, { describe: i.bootloader, error: i.bootloaderError });
  out.push(`${s.ui.labelBootOrder}: ${i.bootOrder.join(' ')} (${boot})`, `${s.ui.labelClock}: ${clockLine(i, s)}`);
  out.push(`${s.ui.labelFloor}: ${i.floorVersion ? fmt(s.ui.detFloor, { v: i.floorVersion }) : i.counterFloor === undefined ? s.ui.noneYet : s.ui.detFloorSet}`);
  out.push(`${s.ui.labelReceipts}: ${fmt(s.ui.detReceipts, { n: i.pendingReceipts })}`);
  return out;
}

function mediaText(st: AppState, s: Strings): string[] {
  const m = st.media;
  const u = m.listing?.updates[m.selected];
  if (m.error) return errorText(m.error, s);
  if (!u) return [s.ui.noneParen];
  const p = problemOf(u, m.roots[m.rootIndex], m.verdicts);
  const k = m.listing?.stick;
  const size = k?.sizeBytes !== undefined ? [fmt(s.ui.detFree, { size: formatBytes(k.sizeBytes), free: formatBytes(k.freeBytes ?? 0) })] : [];
  const desc = k ? [k.label, k.device, k.fsType, ...size, k.readOnly ? s.ui.detReadOnly : s.ui.detWritable].filter(Boolean).join(', ') : '';
  const stick = k ? [fmt(s.ui.detStick, { root: m.roots[m.rootIndex] ?? '?', desc }), ''] : [];
  const out = [
    ...stick,
    fmt(s.ui.detUpdate, { id: u.id, v: u.version, target: u.target }),
    fmt(s.ui.detSize, { size: u.sizeBytes === undefined ? '?' : formatBytes(u.sizeBytes), created: formatInstant(u.created), expires: formatInstant(u.expires) }),
    fmt(s.ui.detSignedBy, { v: u.signer ?? s.ui.signerUnverified }),
  ];
  if (p) out.push('', ...errorText(p, s));
  out.push(...signerText(u.signerDetails, s));
  if (u.notes) out.push('', `${s.ui.labelNotes}:`, ...u.notes.split(/\r?\n/));
  return out;
}

/** A catalogue entry by computed key (stage and state names); a name the engine made up itself stays as it is. */
function ui(s: Strings, key: string, fallback: string): string {
  return (s.ui as Record<string, string>)[key] ?? fallback;
}

/** The detail text for the current screen. */
export function detailLines(st: AppState, s: Strings): string[] {
  switch (st.screen) {
    case 'device':
      return st.device.info ? [...deviceText(st.device.info, s), ...driftText(st.device.drift, s)] : st.device.error ? errorText(st.device.error, s) : [];
    case 'media':
      return mediaText(st, s);
    case 'verify': {
      const v = st.verify!;
      return [`${v.entry.id}`, ...(v.error ? ['', ...errorText(v.error, s)] : [engineWord(s, 'phase', v.phase)]), ...signerText(v.signature?.details ?? v.entry.signerDetails, s)];
    }
    case 'confirm': {
      const p = st.confirm!.plan;
      return [`${p.id}: ${versionName(s, p.fromVersion, 'good')} ${st.glyphs.arrow} ${p.toVersion}, ${fmt(s.ui.slotName, { slot: p.targetSlot })} (${p.slotDescribe ?? '?'})`, `${s.ui.labelSignedBy}: ${p.signers.join(', ')}`, '', `${s.ui.labelNotes}:`, ...(p.notes ?? s.ui.noneParen).split(/\r?\n/)];
    }
    case 'apply':
      return st.apply?.error ? errorText(st.apply.error, s) : st.apply ? st.apply.stages.map((x) => `${ui(s, `stage_${x.step}`, x.step)}: ${ui(s, `state_${x.state}`, x.state)}`) : [];
    case 'done': {
      const o = st.done!.outcome;
      const wait = o.receiptWait;
      const receipt = o.receiptPath ?? `${receiptWaitText(s, wait)}${wait?.detail ? ` (${s.engine.labelDetail}: ${wait.detail})` : ''}`;
      return [`${s.ui.labelReceipt}: ${receipt}`, ...(st.done!.error ? ['', ...errorText(st.done!.error, s)] : [])];
    }
    case 'maint': {
      const m = st.maint!;
      if (m.error) return errorText(m.error, s);
      if (!m.result) return [];
      const wait = m.result.receiptWait;
      return [maintResultText(m.result, s), `${s.ui.labelReceipt}: ${m.result.receiptPath ?? fmt(s.ui.receiptWaits, { why: receiptWaitText(s, wait) })}${wait?.detail ? ` (${s.engine.labelDetail}: ${wait.detail})` : ''}`];
    }
    case 'log':
    case 'receipts':
      return logText(st, s);
    case 'detail':
      return st.overlay?.lines ?? [];
  }
}

/** An overlay over `back`: help or details. */
export function overlay(kind: 'help' | 'detail', st: AppState, s: Strings): Overlay {
  const back: ScreenId = st.screen;
  const lines = kind === 'help' ? (s.help[back] ?? s.help.device ?? []) : detailLines(st, s);
  return { title: `${kind === 'help' ? s.ui.screenHelp : s.ui.screenDetail}`, lines, scroll: 0, back };
}
