/**
 * The receipts store at HQ: one SQLite database file through Node's built-in `node:sqlite`
 * (Node 24: no flag, no native addon to build, and one file a person can copy or back up;
 * a folder of JSON files would need its own index for 10,000 receipts and its own crash
 * safety for each write). Append-only as DESIGN.md §6 asks: triggers refuse every UPDATE and
 * DELETE, so a report never rewrites a receipt. Identity = deviceId + stamp + action; a second
 * receipt with the same identity but other bytes is kept in `conflicts`, never replacing the
 * first. Commits run with synchronous=FULL, so a committed receipt survives a power cut.
 * Schema v2 keeps, next to each receipt's bytes, the facts a report reads (facts.ts); a v1
 * store is migrated in one transaction when it is opened for writing, and read as it is (its
 * bodies parsed and checked again) by a report, which never writes.
 */
import { hash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Receipt } from '../../device/receipts.js';
import { FerryError } from '../../errors.js';
import { fsyncDir } from '../../util/fsx.js';
import { factsOf, OPTIONAL_FACTS, type ReceiptFacts } from './facts.js';
import { receiptProblems } from './schema.js';

const STORE_SCHEMA_V1 = 'ferry.receipts-store/v1';
const STORE_SCHEMA = 'ferry.receipts-store/v2';

/** The fact columns (facts.ts) after the v1 columns: NULL in a row a v1 store held whose body no longer passes the schema. */
const FACT_COLUMNS = ['finished_text', 'compatible', 'result', 'booted_slot', ...OPTIONAL_FACTS.map(([, column]) => column)];
const FACT_PLACEHOLDERS = FACT_COLUMNS.map(() => '?').join(', ');

const NO_UPDATE_TRIGGER = "CREATE TRIGGER IF NOT EXISTS receipts_no_update BEFORE UPDATE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;";

// Rowid tables with the identity as a unique key: a WITHOUT ROWID table keeps whole ~1 KiB rows in
// its key b-tree, which SQLite advises against for rows over 1/20 of a page (10,000 receipts made a
// 45 MiB file, 3x the insert CPU and 4x the report's read CPU against 13 MiB this way). Stores made
// with the earlier layout answer the same statements.
const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (
  device_id TEXT NOT NULL, stamp TEXT NOT NULL, action TEXT NOT NULL,
  finished_at TEXT NOT NULL, sha256 TEXT NOT NULL, body TEXT NOT NULL,
  sig TEXT NOT NULL, source TEXT NOT NULL, site TEXT NOT NULL, collected_at TEXT NOT NULL,
  ${FACT_COLUMNS.map((c) => `${c} TEXT`).join(', ')},
  PRIMARY KEY (device_id, stamp, action));
CREATE TABLE IF NOT EXISTS conflicts (
  device_id TEXT NOT NULL, stamp TEXT NOT NULL, action TEXT NOT NULL, sha256 TEXT NOT NULL,
  body TEXT NOT NULL, source TEXT NOT NULL, collected_at TEXT NOT NULL,
  PRIMARY KEY (device_id, stamp, action, sha256));
${NO_UPDATE_TRIGGER}
CREATE TRIGGER IF NOT EXISTS receipts_no_delete BEFORE DELETE ON receipts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER IF NOT EXISTS conflicts_no_update BEFORE UPDATE ON conflicts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
CREATE TRIGGER IF NOT EXISTS conflicts_no_delete BEFORE DELETE ON conflicts BEGIN SELECT RAISE(ABORT, 'receipts are append-only'); END;
`;

/** The fact column values of a receipt, in FACT_COLUMNS order (NULL for an absent optional fact). */
function factValues(f: ReceiptFacts): Array<string | null> {
  return [f.finishedAt, f.compatible, f.result, f.bootedSlot, ...OPTIONAL_FACTS.map(([key]) => (f[key] as string | undefined) ?? null)];
}

/** The facts of a stored v1 body, or undefined when it no longer passes the schema. */
function factsOfBody(body: string): ReceiptFacts | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  return receiptProblems(v).length === 0 ? factsOf(v as Receipt) : undefined;
}

/**
 * Migrate a v1 store to v2 in one transaction: add the fact columns and fill them from each
 * stored body (a body that no longer passes the schema keeps NULL facts, and a report lists it
 * as damaged, as before). Only this transaction lifts the append-only trigger for UPDATE, and
 * only the new columns are written; a crash leaves the v1 store as it was.
 */
function migrateV1(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const c of FACT_COLUMNS) db.exec(`ALTER TABLE receipts ADD COLUMN ${c} TEXT`);
    db.exec('DROP TRIGGER receipts_no_update');
    const page = db.prepare('SELECT rowid AS id, body FROM receipts WHERE rowid > ? ORDER BY rowid LIMIT 500');
    const fill = db.prepare(`UPDATE receipts SET (${FACT_COLUMNS.join(', ')}) = (${FACT_PLACEHOLDERS}) WHERE rowid = ?`);
    for (let last = -1, rows = page.all(last); rows.length > 0; rows = page.all(last)) {
      for (const r of rows as Array<{ id: number; body: string }>) {
        const f = factsOfBody(r.body);
        if (f !== undefined) fill.run(...factValues(f), r.id);
        last = r.id;
      }
    }
    db.exec(`${NO_UPDATE_TRIGGER} UPDATE meta SET value = '${STORE_SCHEMA}' WHERE key = 'schema'; COMMIT;`);
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

/** One receipt to add: its identity, its bytes and where it came from. */
export interface StoreEntry {
  deviceId: string;
  stamp: string;
  action: string;
  finishedAt: string;
  /** What a report reads of it (facts.ts). */
  facts: ReceiptFacts;
  bytes: Buffer;
  /** The outcome of its signature check at collect (verdict.ts signatureOutcome). */
  sig: string;
  source: string;
  /** The site the stick came back from (collect --site, default the stick folder's name). */
  site: string;
}

/** What adding a receipt did. */
export type AddOutcome = 'added' | 'duplicate' | 'conflict';

/** A stored receipt with its bytes. */
export interface StoredReceipt {
  body: string;
  sig: string;
  source: string;
  site: string;
}

/** A stored receipt as the report reads it: its facts, or (a v1 store, or a row whose facts could not be taken) its body. */
export type ReportRow = { sig: string; source: string; site: string } & ({ facts: ReceiptFacts; body?: undefined } | { facts?: undefined; body: string });

/** A v2 report row as an array (node:sqlite makes arrays cheaper than objects): REPORT_COLUMNS order. */
type FactsRow = Array<string | null>;

/** sig, source, site, the body where the facts are missing, the identity, then FACT_COLUMNS. */
const REPORT_COLUMNS = `sig, source, site, CASE WHEN compatible IS NULL THEN body END, device_id, stamp, action, ${FACT_COLUMNS.join(', ')}`;
/** Where the optional facts start in a report row. */
const FIRST_OPTIONAL = 11;

/** A v2 row's facts, or undefined when its fact columns are NULL (its body did not pass the schema when the store was migrated). */
function factsOfRow(r: FactsRow): ReceiptFacts | undefined {
  if (r[8] === null) return undefined;
  const f = { deviceId: r[4], stamp: r[5], action: r[6], finishedAt: r[7], compatible: r[8], result: r[9], bootedSlot: r[10] } as ReceiptFacts;
  for (let i = 0; i < OPTIONAL_FACTS.length; i++) {
    const v = r[FIRST_OPTIONAL + i];
    if (v !== null && v !== undefined) (f as unknown as Record<string, string>)[OPTIONAL_FACTS[i]![0]] = v;
  }
  return f;
}

function storeError(file: string, e: unknown): FerryError {
  return new FerryError('RECEIPTS_STORE_INVALID', `${file} is not a ferry receipts store (${(e as Error).message}): name a new file or one made by ferry receipts collect`, { cause: e });
}

/** An open receipts store. */
export class ReceiptsStore {
  private constructor(
    readonly file: string,
    private readonly db: DatabaseSync,
    /** The store's schema (a read-only v1 store is read as it is). */
    private readonly schema: string,
  ) {}

  /** Open (or, unless `mustExist`, create) the store file. */
  static async open(file: string, opts: { mustExist?: boolean; readOnly?: boolean } = {}): Promise<ReceiptsStore> {
    const existed = await fsp.stat(file).then(() => true, () => false);
    if (!existed && opts.mustExist) throw new FerryError('RECEIPTS_STORE_INVALID', `${file} does not exist: collect receipts into it first (ferry receipts collect --into ${file})`);
    let db: DatabaseSync;
    let schema: string;
    try {
      db = new DatabaseSync(file, { readOnly: Boolean(opts.readOnly && existed) });
      db.exec('PRAGMA synchronous = FULL;');
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
      if (tables.length === 0) {
        if (opts.readOnly) throw new Error('it is empty');
        // a new (or empty) database becomes a store; anything else must already be one
        db.exec(`PRAGMA journal_mode = DELETE; BEGIN; ${DDL} INSERT INTO meta (key, value) VALUES ('schema', '${STORE_SCHEMA}'); COMMIT;`);
      }
      const row = tables.length === 0 || tables.includes('meta') ? (db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as { value: string } | undefined) : undefined;
      if (row?.value !== STORE_SCHEMA && row?.value !== STORE_SCHEMA_V1) throw new Error(`its schema is ${row?.value ?? 'missing'}`);
      schema = row.value;
      if (schema === STORE_SCHEMA_V1 && !opts.readOnly) {
        migrateV1(db);
        schema = STORE_SCHEMA;
      }
    } catch (e) {
      throw storeError(file, e);
    }
    // a new file's directory entry must survive a power cut too
    if (!existed) await fsyncDir(path.dirname(path.resolve(file)));
    return new ReceiptsStore(file, db, schema);
  }

  /** Add receipts in one transaction (committed durably before this returns). */
  addAll(entries: StoreEntry[], collectedAt: string): AddOutcome[] {
    const find = this.db.prepare('SELECT sha256 FROM receipts WHERE device_id = ? AND stamp = ? AND action = ?');
    // one statement per new receipt: the lookup runs only when the identity is already there
    const insert = this.db.prepare(`INSERT INTO receipts (device_id, stamp, action, finished_at, sha256, body, sig, source, site, collected_at, ${FACT_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${FACT_PLACEHOLDERS}) ON CONFLICT DO NOTHING`);
    const conflict = this.db.prepare('INSERT OR IGNORE INTO conflicts (device_id, stamp, action, sha256, body, source, collected_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const out: AddOutcome[] = [];
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const e of entries) {
        const sha = hash('sha256', e.bytes, 'hex');
        if (Number(insert.run(e.deviceId, e.stamp, e.action, e.finishedAt, sha, e.bytes.toString('utf8'), e.sig, e.source, e.site, collectedAt, ...factValues(e.facts)).changes) === 1) {
          out.push('added');
          continue;
        }
        const have = find.get(e.deviceId, e.stamp, e.action) as { sha256: string } | undefined;
        if (have?.sha256 === sha) out.push('duplicate');
        else {
          conflict.run(e.deviceId, e.stamp, e.action, sha, e.bytes.toString('utf8'), e.source, collectedAt);
          out.push('conflict');
        }
      }
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw new FerryError('IO_ERROR', `cannot write to the receipts store ${this.file}: ${(e as Error).message}; nothing was added`, { cause: e });
    }
    return out;
  }

  /** Every stored receipt finished at or after `since` (ISO), oldest first per device (an iterator: one row at a time). */
  *receipts(since?: string): Generator<StoredReceipt> {
    const it = this.db.prepare('SELECT body, sig, source, site FROM receipts WHERE finished_at >= ? ORDER BY device_id, finished_at, stamp').iterate(since ?? '');
    for (const row of it) yield row as unknown as StoredReceipt;
  }

  /**
   * What a report reads: every stored receipt finished at or after `since` (ISO), oldest first
   * per device, one row at a time; its facts, or its body where the store has no facts for it.
   */
  *reportRows(since?: string): Generator<ReportRow> {
    if (this.schema === STORE_SCHEMA_V1) {
      yield* this.receipts(since);
      return;
    }
    const query = this.db.prepare(`SELECT ${REPORT_COLUMNS} FROM receipts WHERE finished_at >= ? ORDER BY device_id, finished_at, stamp`);
    query.setReturnArrays(true);
    for (const row of query.iterate(since ?? '') as Iterable<FactsRow>) {
      const facts = factsOfRow(row);
      const [sig, source, site] = row as [string, string, string];
      yield facts ? { sig, source, site, facts } : { sig, source, site, body: row[3] ?? '' };
    }
  }

  /** Receipts that came with an identity already stored but other bytes. */
  conflicts(): Array<{ deviceId: string; stamp: string; action: string; source: string }> {
    return (this.db.prepare('SELECT device_id, stamp, action, source FROM conflicts ORDER BY device_id, stamp').all() as Array<Record<string, string>>).map((r) => ({
      deviceId: r.device_id!, stamp: r.stamp!, action: r.action!, source: r.source!,
    }));
  }

  /** How many receipts the store holds. */
  count(): number {
    return Number((this.db.prepare('SELECT count(*) AS n FROM receipts').get() as { n: number }).n);
  }

  /** Close the database. */
  close(): void {
    this.db.close();
  }
}
