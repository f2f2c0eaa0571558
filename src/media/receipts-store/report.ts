/**
 * `ferry receipts report` (the I/O shell): read the store one receipt at a time, the device CA's
 * enrolment register and the campaign file, and build the report (report-model.ts); the
 * renderers are report-text.ts and report-html.ts.
 */
import type { Receipt } from '../../device/receipts.js';
import { FerryError } from '../../errors.js';
import { loadEnrolments } from '../../trust/enroll.js';
import { loadCampaign } from '../campaign/load.js';
import { factsOf } from './facts.js';
import { FleetReportBuilder, type FleetReport, type ReportTarget } from './report-model.js';
import { receiptProblems } from './schema.js';
import { ReceiptsStore } from './store.js';

/** What to report on. */
export interface ReportRequest {
  storeFile: string;
  /** The device CA folder (its devices/ register); absent: enrolment is not checked. */
  deviceCaDir?: string;
  campaignFile?: string;
  since?: Date;
  acceptUnsigned?: boolean;
  now?: Date;
}

/** The report, and what could not be used on the way (damaged register entries, store rows). */
export interface ReportOutcome {
  report: FleetReport;
  problems: string[];
}

/** Parse a --since value: a date (YYYY-MM-DD, UTC midnight) or an RFC 3339 time. */
export function parseSince(v: string): Date {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(v) ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new FerryError('USAGE', `--since "${v}" is not a date (YYYY-MM-DD) or an RFC 3339 time`);
  return d;
}

/** Build the fleet report from the store (see the file comment). */
export async function buildFleetReport(req: ReportRequest): Promise<ReportOutcome> {
  const problems: string[] = [];
  const register = req.deviceCaDir !== undefined ? await loadEnrolments(req.deviceCaDir) : undefined;
  problems.push(...(register?.problems ?? []));
  const enrolled = register ? new Map([...register.byKeyId].map(([k, e]) => [k, e.deviceId])) : undefined;
  let campaign: { name: string; targets: ReportTarget[] } | undefined;
  if (req.campaignFile !== undefined) {
    const c = await loadCampaign(req.campaignFile, { checkFiles: false });
    campaign = { name: c.name, targets: c.images.map((i) => ({ target: i.target, version: i.version, compatible: i.compatible })) };
  }
  const builder = new FleetReportBuilder({ ...(enrolled ? { enrolled } : {}), acceptUnsigned: Boolean(req.acceptUnsigned) });
  const store = await ReceiptsStore.open(req.storeFile, { mustExist: true, readOnly: true });
  try {
    for (const row of store.reportRows(req.since?.toISOString())) {
      if (row.facts !== undefined) {
        builder.add(row.facts, row.sig, row.source, row.site);
        continue;
      }
      // a v1 store, or a row whose body did not pass the schema when its store was migrated
      let v: unknown;
      try {
        v = JSON.parse(row.body);
      } catch {
        v = undefined;
      }
      const bad = receiptProblems(v);
      if (bad.length > 0) problems.push(`a stored receipt from ${row.source} is damaged (${bad.join('; ')})`);
      else builder.add(factsOf(v as Receipt), row.sig, row.source, row.site);
    }
    for (const c of store.conflicts()) problems.push(`${c.source}: device ${c.deviceId} ${c.stamp} ${c.action} came a second time with other bytes; the first one is counted`);
  } finally {
    store.close();
  }
  const enrolledDevices = register ? [...register.byKeyId.values()].map((e) => e.deviceId) : undefined;
  const report = builder.finish({ now: req.now ?? new Date(), ...(req.since ? { since: req.since } : {}), ...(enrolledDevices ? { enrolledDevices } : {}), ...(campaign ? { campaign } : {}) });
  return { report, problems };
}
