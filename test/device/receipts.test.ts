import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverReceipts, RECEIPT_SCHEMA, type Receipt } from '../../src/device/receipts.js';
import { emptyState } from '../../src/device/state.js';

let tmp: string | undefined;
afterEach(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

function receipt(): Receipt {
  const at = '2026-11-22T01:00:00.000Z';
  const slots = { A: { status: 'good' as const }, B: { status: 'empty' as const } };
  return { schema: RECEIPT_SCHEMA, action: 'apply', stamp: '20261122T010000.000Z', deviceId: 'dev-1', compatible: 'acme,kiosk', result: 'success', bootedSlot: 'A', before: slots, after: slots, startedAt: at, finishedAt: at, durationMs: 0 };
}

describe('receipts on a crafted stick', () => {
  it.each([['FERRY'], ['FERRY/receipts'], ['FERRY/receipts/dev-1']])('a symlink at %s cannot steer a receipt outside the stick: it stays queued in the state', async (link) => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-'));
    const stick = path.join(tmp, 'stick');
    const outside = path.join(tmp, 'outside');
    await fsp.mkdir(outside);
    await fsp.mkdir(path.join(stick, path.dirname(link)), { recursive: true });
    await fsp.symlink(outside, path.join(stick, link));
    const state = emptyState();
    const d = await deliverReceipts(stick, state, receipt());
    expect(d).toMatchObject({ written: [], kept: 1, error: expect.stringMatching(/symlink|not a directory/) });
    expect(state.pendingReceipts).toHaveLength(1);
    expect(await fsp.readdir(outside)).toEqual([]);
  });

  it('writes into real directories, creating them', async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-receipts-'));
    const state = emptyState();
    const d = await deliverReceipts(tmp, state, receipt());
    expect(d).toMatchObject({ kept: 0, written: [path.join(tmp, 'FERRY', 'receipts', 'dev-1', '20261122T010000.000Z-apply.json')] });
  });
});
