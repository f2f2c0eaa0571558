/** Screens 3 and 5, Verify and Apply: signature verdict, then bytes, MB/s and ETA per stage. */
import { bar, cell, fit, formatBytes, formatDuration, wrap } from '../format.js';
import { blank, type Frame, type Line, line, type Size } from '../frame.js';
import { eta, formatRate, type Meter, percent } from '../meter.js';
import type { AppState, ApplyState, Glyphs, VerifyState } from '../state.js';
import { fmt, type Strings } from '../strings.js';
import { errorLines, errorStatus, kv, versionName } from './common.js';

/** Gauge + figures for a meter: two lines. A finished meter shows the average and the time taken, a stopped one where it stopped. */
export function meterLines(m: Meter, g: Glyphs, width: number, indent: number, stopped: boolean, s: Strings): Line[] {
  const pct = percent(m);
  const pad = ' '.repeat(indent);
  const gauge = bar(pct / 100, Math.max(10, width - indent - 6), g);
  const took = (m.samples[m.samples.length - 1]?.[0] ?? m.startedAt) - m.startedAt;
  const avg = took > 0 ? `${((m.bytesDone * 1000) / took / 1e6).toFixed(1)} MB/s` : '';
  const figures = stopped
    ? fmt(s.ui.meterStopped, { done: formatBytes(m.bytesDone), total: formatBytes(m.bytesTotal) })
    : m.finished
      ? fmt(avg ? s.ui.meterDoneAvg : s.ui.meterDone, { total: formatBytes(m.bytesTotal), t: formatDuration(took / 1000), avg })
      : fmt(s.ui.meterRunning, { done: formatBytes(m.bytesDone), total: formatBytes(m.bytesTotal), rate: formatRate(m), eta: formatDuration(eta(m)) });
  // A stopped meter has no gauge: a bar frozen at 99% reads as "almost done".
  if (stopped) return [line(fit(pad + figures, width))];
  return [line(fit(`${pad}${gauge} ${String(pct).padStart(3)}%`, width), 'bold'), line(fit(pad + figures, width))];
}

function signatureLine(v: VerifyState, s: Strings, g: Glyphs, w: number): Line {
  if (v.signature) return kv(s.ui.labelSignature, `${g.ok} ${fmt(s.ui.signatureValid, { who: v.signature.signers.join(', ') || '?' })}`, w);
  if (v.phase === 'signature') return kv(s.ui.labelSignature, s.ui.checking, w);
  return kv(s.ui.labelSignature, `${g.no} ${s.ui.signerUnverified}`, w);
}

/** The certificate chain verdict: the signature only verifies when a chain to a device root exists. */
function chainLine(v: VerifyState, s: Strings, g: Glyphs, w: number): Line {
  const sig = v.signature!;
  const path = sig.chain.length > 0 ? sig.chain.join(` ${g.arrow} `) : `${sig.signers[0] ?? '?'} ${g.arrow} ${s.ui.trustedRoot}`;
  return kv(s.ui.labelChain, `${g.ok} ${path}`, w);
}

/** Screen 3. */
export function verifyFrame(st: AppState, s: Strings, size: Size): Frame {
  const v = st.verify!;
  const g = st.glyphs;
  const w = size.width;
  const u = v.entry;
  const lines: Line[] = [kv(s.ui.colUpdate, `${u.id}  (${fmt(s.ui.versionSize, { v: u.version, size: u.sizeBytes !== undefined ? formatBytes(u.sizeBytes) : '?' })})`, w), blank, signatureLine(v, s, g, w)];
  if (v.signature) lines.push(chainLine(v, s, g, w));
  lines.push(blank);
  if (v.meter) {
    const blobs = v.phase === 'ok' ? `${g.ok} ${s.ui.blobsOk}` : v.phase === 'failed' || v.phase === 'stopped' ? `${g.no} ${s.ui.blobsNotAll}` : s.ui.blobsReading;
    lines.push(kv(s.ui.labelBlobs, blobs, w), ...meterLines(v.meter, g, w, 12, v.phase === 'failed' || v.phase === 'stopped', s));
    if (v.detail && v.phase === 'blobs') lines.push(line(fit(' '.repeat(12) + v.detail, w), 'dim'));
  }
  if (v.error) lines.push(blank, ...errorLines(v.error, s, g, w, Math.max(1, size.height - lines.length - 3)));
  if (v.phase === 'ok') lines.push(blank, line(fit(`${g.ok} ${s.ui.verifiedNext}`, w), 'bold'));
  if (v.phase === 'stopped') lines.push(blank, line(fit(s.ui.verifyStopped, w)));
  const busy = v.phase === 'signature' || v.phase === 'blobs';
  return { title: `${s.ui.screenVerify}: ${u.id}`, lines, keys: busy ? s.ui.keysVerifyBusy : v.error ? s.ui.keysErrorDetail : s.ui.keysVerify, ...(v.error ? { status: errorStatus(v.error, s, g, w) } : {}) };
}

function stageLine(a: ApplyState, i: number, g: Glyphs, w: number, s: Strings): Line {
  const st = a.stages[i]!;
  const mark = st.state === 'done' ? g.ok : st.state === 'failed' ? g.no : st.state === 'running' ? g.run : st.state === 'stopped' ? '-' : ' ';
  // Canonical stages and states come from the catalogue; a step the engine names itself keeps its name.
  const ui = s.ui as Record<string, string>;
  const name = ui[`stage_${st.step}`] ?? st.step;
  return line(fit(` ${mark} ${cell(name, 12)}${st.state === 'waiting' ? '' : (ui[`state_${st.state}`] ?? st.state)}`, w), st.state === 'running' ? 'bold' : 'normal');
}

/** The sentence under the stages, wrapped (never cut). */
function applyNote(a: ApplyState, s: Strings, g: Glyphs, w: number): Line[] {
  const para = (t: string, style: 'bold' | 'normal' = 'normal') => wrap(t, w).map((x) => line(x, style));
  if (a.cancelled) {
    // Before the write the device is exactly as before; once the write began, the inactive
    // slot holds part of the new image and stays marked bad (never booted) until rewritten.
    const wrote = a.stages.some((st) => st.step === 'write' && st.state !== 'waiting');
    return para(`${g.ok} ${wrote ? fmt(s.ui.cancelledWrote, { slot: a.plan.targetSlot }) : s.ui.cancelledClean}`, 'bold');
  }
  if (a.cancelling) return para(s.ui.cancelling, 'bold');
  if (a.cancelAsked) return para(s.ui.cancelAsk, 'bold');
  if (a.error) return [];
  if (a.switched) return para(s.ui.cannotCancel);
  return para(s.ui.canCancel);
}

/** Screen 5. */
export function applyFrame(st: AppState, s: Strings, size: Size): Frame {
  const a = st.apply!;
  const g = st.glyphs;
  const w = size.width;
  const p = a.plan;
  const lines: Line[] = [kv(s.ui.screenApply, `${versionName(s, p.fromVersion, 'good')} ${g.arrow} ${p.toVersion}, ${fmt(s.ui.slotName, { slot: p.targetSlot })}`, w), blank];
  a.stages.forEach((_, i) => lines.push(stageLine(a, i, g, w, s)));
  lines.push(blank);
  const running = a.stages.find((x) => x.state === 'running')?.step;
  // The meter and its detail belong to the stage that runs: nothing from an earlier stage stays under the bar.
  if (a.meter && running === a.meterStage) lines.push(line(fit(`   ${a.meterStage === 'verify' ? s.ui.stageVerifying : s.ui.stageWriting}`, w)), ...meterLines(a.meter, g, w, 3, false, s));
  if (a.detail && running !== undefined && a.detail.startsWith(`${running}:`)) lines.push(line(fit('   ' + a.detail, w), 'dim'));
  lines.push(blank, ...applyNote(a, s, g, w));
  if (a.error && !a.cancelled) lines.push(...errorLines(a.error, s, g, w, Math.max(1, size.height - lines.length - 2)));
  const keys = a.cancelAsked ? s.ui.keysCancelAsk : a.error ? s.ui.keysErrorDetail : a.cancelled ? s.ui.keysError : a.switched ? s.ui.keysApplyLate : s.ui.keysApply;
  return { title: `${s.ui.screenApply}: ${p.id}`, lines, keys, ...(a.error && !a.cancelled ? { status: errorStatus(a.error, s, g, w) } : {}) };
}
