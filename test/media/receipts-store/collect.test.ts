import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectReceipts } from '../../../src/media/receipts-store/collect.js';
import { RECEIPT_BATCH } from '../../../src/media/receipts-store/stick.js';
import { ReceiptsStore } from '../../../src/media/receipts-store/store.js';
import { deviceKeyPair, putOnStick, receiptOf, signed } from '../../helpers/receipts.js';

let dir: string;
const p = (...x: string[]) => path.join(dir, ...x);
const key = deviceKeyPair();
const T0 = new Date('2026-11-20T10:00:00.000Z');
const at = (min: number) => new Date(T0.getTime() + min * 60_000);

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-collect-'));
  await fsp.mkdir(p('stick', 'FERRY'), { recursive: true });
});
afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

async function storedBodies(file: string): Promise<string[]> {
  const s = await ReceiptsStore.open(file, { mustExist: true });
  try {
    return [...s.receipts()].map((r) => r.body);
  } finally {
    s.close();
  }
}

describe('collectReceipts', () => {
  it('stores every receipt once: a second collect finds only duplicates', async () => {
    await putOnStick(p('stick'), [signed(receiptOf('dev-1', at(0)), key), signed(receiptOf('dev-1', at(5), { action: 'boot-check' }), key), receiptOf('dev-2', at(1))]);
    const first = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    expect(first).toMatchObject({ found: 3, added: 3, duplicates: 0, conflicts: [], rejected: [], storeTotal: 3, unsigned: 1, badSignature: [] });
    const again = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    expect(again).toMatchObject({ found: 3, added: 0, duplicates: 3, storeTotal: 3 });
    const bodies = await storedBodies(p('store.sqlite'));
    expect(bodies.map((b) => JSON.parse(b).deviceId)).toEqual(['dev-1', 'dev-1', 'dev-2']);
  });

  it('keeps a second receipt with the same identity but other bytes aside, never replacing the first', async () => {
    await putOnStick(p('stick'), [receiptOf('dev-1', at(0))]);
    await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    await fsp.rm(p('stick', 'FERRY', 'receipts'), { recursive: true });
    await putOnStick(p('stick'), [receiptOf('dev-1', at(0), { result: 'failure' })]);
    const r = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    expect(r).toMatchObject({ added: 0, duplicates: 0, conflicts: [expect.stringMatching(/dev-1/)] });
    expect(JSON.parse((await storedBodies(p('store.sqlite')))[0]!).result).toBe('success');
  });

  it('lists damaged, foreign, misfiled, oversized and special files with their reasons, and stores the rest', async () => {
    const [good] = await putOnStick(p('stick'), [signed(receiptOf('dev-1', at(0)), key)]);
    const dev1 = path.dirname(good!);
    await fsp.writeFile(path.join(dev1, '20261120T100100.000Z-apply.json'), '{"schema": "ferry.receipt/v1", "action": ');
    await fsp.writeFile(path.join(dev1, 'notes.json'), JSON.stringify({ schema: 'acme.inventory/v3' }));
    await fsp.mkdir(p('stick', 'FERRY', 'receipts', 'dev-9'));
    await fsp.writeFile(p('stick', 'FERRY', 'receipts', 'dev-9', path.basename(good!)), await fsp.readFile(good!));
    await fsp.writeFile(path.join(dev1, '20261120T100200.000Z-apply.json'), Buffer.alloc(600 * 1024, 0x20));
    execFileSync('mkfifo', [path.join(dev1, '20261120T100300.000Z-apply.json')]);
    await fsp.symlink('/etc/passwd', path.join(dev1, '20261120T100400.000Z-apply.json'));
    await fsp.writeFile(path.join(dev1, '.ferry-tmp-20261120T100500.000Z-apply.json.1a2b'), '{');
    const r = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    expect(r.added).toBe(1);
    const why = Object.fromEntries(r.rejected.map((x) => [path.relative(p('stick', 'FERRY', 'receipts'), x.file), x.problems.join('; ')]));
    expect(why).toEqual({
      'dev-1/20261120T100100.000Z-apply.json': expect.stringMatching(/not valid JSON/),
      'dev-1/20261120T100200.000Z-apply.json': expect.stringMatching(/over the 524288-byte cap/),
      'dev-1/20261120T100300.000Z-apply.json': 'is not a regular file',
      'dev-1/20261120T100400.000Z-apply.json': 'is a symbolic link',
      'dev-1/notes.json': expect.stringMatching(/not a ferry receipt/),
      [`dev-9/${path.basename(good!)}`]: expect.stringMatching(/deviceId "dev-1" is not its folder "dev-9"/),
    });
    expect(r.ignored.map((x) => path.basename(x.file))).toEqual(['.ferry-tmp-20261120T100500.000Z-apply.json.1a2b']);
  });

  it('refuses a stick whose receipts folder is a link (nothing stored)', async () => {
    await fsp.mkdir(p('elsewhere'));
    await fsp.symlink(p('elsewhere'), p('stick', 'FERRY', 'receipts'));
    await expect(collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') })).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
  });

  it('with clear removes exactly the stored receipts from the stick and leaves rejected files', async () => {
    const files = await putOnStick(p('stick'), [receiptOf('dev-1', at(0)), receiptOf('dev-2', at(0))]);
    const bad = path.join(path.dirname(files[0]!), '20261120T100100.000Z-apply.json');
    await fsp.writeFile(bad, 'not json');
    const r = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite'), clear: true });
    expect(r).toMatchObject({ added: 2, cleared: 2, rejected: [{ file: bad }] });
    for (const f of files) await expect(fsp.stat(f)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fsp.readFile(bad, 'utf8')).toBe('not json');
    await expect(fsp.stat(path.dirname(files[1]!))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await storedBodies(p('store.sqlite'))).length).toBe(2);
  });

  it('over several batches stores every receipt in file order, lists a forged one, and clears only what is stored', async () => {
    // more than one batch, written directly (the device's writer syncs every file)
    const n = RECEIPT_BATCH + 60;
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = signed(receiptOf(`dev-${String(i % 30).padStart(2, '0')}`, at(i)), key);
      if (i === RECEIPT_BATCH + 7) r.result = 'failure'; // changed after signing, in the second batch
      const folder = p('stick', 'FERRY', 'receipts', r.deviceId);
      await fsp.mkdir(folder, { recursive: true });
      files.push(path.join(folder, `${r.stamp}-${r.action}.json`));
      await fsp.writeFile(files[i]!, JSON.stringify(r));
    }
    const damaged = p('stick', 'FERRY', 'receipts', 'dev-00', '20261120T000000.000Z-apply.json');
    await fsp.writeFile(damaged, '{');
    const r = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite'), clear: true });
    expect(r).toMatchObject({ found: n, added: n, duplicates: 0, unsigned: 0, badSignature: [files[RECEIPT_BATCH + 7]], cleared: n, storeTotal: n, rejected: [{ file: damaged }] });
    const stored = (await storedBodies(p('store.sqlite'))).map((b) => JSON.parse(b) as { deviceId: string; stamp: string });
    expect(stored).toHaveLength(n);
    expect(new Set(stored.map((x) => `${x.deviceId}/${x.stamp}`)).size).toBe(n);
    for (const f of files) await expect(fsp.stat(f)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fsp.readFile(damaged, 'utf8')).toBe('{');
  });

  it('stores the same signature outcomes whether the worker thread or the main thread checks them', async () => {
    const rs = [];
    for (let i = 0; i < 40; i++) {
      const r = signed(receiptOf(`dev-${i % 4}`, at(i)), key);
      if (i % 9 === 3) r.result = 'failure'; // changed after signing
      rs.push(i % 13 === 5 ? receiptOf(`dev-${i % 4}`, at(i)) : r);
    }
    await putOnStick(p('stick'), rs);
    const sigs = async (file: string) => {
      const s = await ReceiptsStore.open(file, { mustExist: true });
      try {
        return [...s.receipts()].map((r) => r.sig);
      } finally {
        s.close();
      }
    };
    const worker = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('worker.sqlite') });
    const main = await collectReceipts({ mediaRoot: p('stick'), storeFile: p('main.sqlite'), sigWorker: false });
    expect(worker).toMatchObject({ found: 40, added: 40, unsigned: 3 });
    expect(worker.badSignature).toHaveLength(5);
    expect({ ...main, store: '' }).toEqual({ ...worker, store: '' });
    const want = await sigs(p('worker.sqlite'));
    expect(want.filter((x) => x.startsWith('bad:'))).toHaveLength(5);
    expect(want.filter((x) => x.startsWith('ok:'))).toHaveLength(32);
    expect(await sigs(p('main.sqlite'))).toEqual(want);
  });

  it('clears nothing when the store cannot be written', async () => {
    const files = await putOnStick(p('stick'), [receiptOf('dev-1', at(0))]);
    await fsp.writeFile(p('store.sqlite'), 'this is not a database, just text that is long enough to be looked at by sqlite as a header');
    await expect(collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite'), clear: true })).rejects.toMatchObject({ code: 'RECEIPTS_STORE_INVALID' });
    await expect(fsp.stat(files[0]!)).resolves.toBeDefined();
  });

  it('keeps the store append-only: an UPDATE or DELETE is refused by the database itself', async () => {
    await putOnStick(p('stick'), [receiptOf('dev-1', at(0))]);
    await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    const db = new DatabaseSync(p('store.sqlite'));
    expect(() => db.exec("UPDATE receipts SET body = '{}'")).toThrow(/append-only/);
    expect(() => db.exec('DELETE FROM receipts')).toThrow(/append-only/);
    db.close();
  });

  it('refuses another SQLite database as a store', async () => {
    const db = new DatabaseSync(p('other.sqlite'));
    db.exec('CREATE TABLE t (a)');
    db.close();
    await expect(collectReceipts({ mediaRoot: p('stick'), storeFile: p('other.sqlite') })).rejects.toMatchObject({ code: 'RECEIPTS_STORE_INVALID' });
  });

  it('stores the finish time in UTC form, so --since and the order compare it exactly', async () => {
    await putOnStick(p('stick'), [receiptOf('dev-1', at(0), { finishedAt: '2026-11-20T12:30:00+02:00' })]);
    await collectReceipts({ mediaRoot: p('stick'), storeFile: p('store.sqlite') });
    const s = await ReceiptsStore.open(p('store.sqlite'), { mustExist: true, readOnly: true });
    try {
      expect([...s.receipts('2026-11-20T10:30:00.000Z')]).toHaveLength(1);
      expect([...s.receipts('2026-11-20T10:30:00.001Z')]).toHaveLength(0);
    } finally {
      s.close();
    }
  });
});
