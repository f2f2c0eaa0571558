import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlot } from '../../../src/device/slots/registry.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { tarArchive, writeTestLayout } from '../../helpers/layers.js';

// bootc cannot run here, so a fake stands in for it: it records its argv, checks the
// layout it is given like bootc would (ref in index.json, every blob present and
// hashing right) and reports what it "staged" in bootc's status JSON format.
let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-bootc-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function fakeBootc(name: string, mode: 'honest' | 'lie' | 'fail'): Promise<{ bin: string; state: string }> {
  const state = path.join(tmp, `${name}-state`);
  await fsp.mkdir(state, { recursive: true });
  const bin = path.join(tmp, `${name}-bootc`);
  await fsp.writeFile(
    bin,
    `#!/bin/sh
set -eu
S='${state}'
echo "$*" >> "$S/argv"
case "$1" in
switch)
  [ "$2" = --transport ] && [ "$3" = oci ] || { echo "usage: bootc switch --transport oci PATH:REF" >&2; exit 2; }
  ${mode === 'fail' ? 'echo "error: Switching: pulling image: disk full" >&2; exit 1' : ''}
  layout="\${4%:*}"; ref="\${4##*:}"
  digest=$(jq -r --arg r "$ref" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$layout/index.json")
  [ -n "$digest" ] || { echo "error: no image $ref in $layout" >&2; exit 1; }
  m="$layout/blobs/sha256/\${digest#sha256:}"
  for d in "$digest" $(jq -r '.config.digest, .layers[].digest' "$m"); do
    echo "\${d#sha256:}  $layout/blobs/sha256/\${d#sha256:}" | sha256sum -c --quiet - >&2
  done
  ${mode === 'lie' ? `digest=$(jq -r '.config.digest' "$m")` : ''}
  echo "$digest" > "$S/staged"; echo "$4" > "$S/image" ;;
status)
  [ "$2" = --json ] || exit 2
  printf '{"apiVersion":"org.containers.bootc/v1","kind":"BootcHost","metadata":{"name":"host"},"spec":{"image":{"image":"%s","transport":"oci"}},"status":{"staged":{"image":{"image":{"image":"%s","transport":"oci"},"version":null,"timestamp":null,"imageDigest":"%s"},"pinned":false},"booted":null,"rollback":null}}\\n' "$(cat "$S/image")" "$(cat "$S/image")" "$(cat "$S/staged")" ;;
*) exit 2 ;;
esac
`,
    { mode: 0o755 },
  );
  return { bin, state };
}

const layer = (name: string, data: string) => ({ tar: tarArchive([{ name, data }]) });

describe('bootc slot (with a fake bootc)', () => {
  it('copies the verified image to a local layout, switches to it and checks the staged digest', async () => {
    const { bin, state } = await fakeBootc('honest', 'honest');
    const stateDir = path.join(tmp, 'dev1');
    const slot = createSlot('B', { type: 'bootc', bootcPath: bin }, { stateDir });
    const stick = await writeTestLayout(path.join(tmp, 'stick1'), [layer('usr/base', 'base'), layer('etc/app', 'v1')], 'kiosk-1.0.0');
    const events: number[] = [];
    const r = await slot.write({ ...stick, ref: 'kiosk-1.0.0', progress: (e) => events.push(e.bytesDone) });
    const local = path.join(stateDir, 'bootc', 'oci');
    expect(fs.readFileSync(path.join(state, 'argv'), 'utf8')).toBe(`switch --transport oci ${local}:kiosk-1.0.0\nstatus --json\n`);
    expect(r.details).toMatchObject({ stagedDigest: stick.image.manifestDescriptor.digest, target: `${local}:kiosk-1.0.0` });
    const payload = [stick.image.configDescriptor, ...stick.image.manifest.layers, stick.image.manifestDescriptor].reduce((s, d) => s + d.size, 0);
    expect(r.bytesRead).toBe(payload);
    expect(events.at(-1)).toBe(payload);
    // the stick can go: the local copy is a complete layout that skopeo reads
    await fsp.rm(path.join(tmp, 'stick1'), { recursive: true });
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${local}:kiosk-1.0.0`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
    expect(inspected.Digest).toBe(stick.image.manifestDescriptor.digest);
    expect(inspected.Layers).toEqual(stick.image.manifest.layers.map((l) => l.digest));
  });

  it('skips blobs it already holds and keeps only the current image', async () => {
    const { bin, state } = await fakeBootc('upgrade', 'honest');
    const stateDir = path.join(tmp, 'dev2');
    const slot = createSlot('A', { type: 'bootc', bootcPath: bin }, { stateDir });
    const v1 = await writeTestLayout(path.join(tmp, 'stick-v1'), [layer('usr/base', 'base'), layer('etc/app', 'v1')], 'kiosk-1.0.0');
    await slot.write({ ...v1, ref: 'kiosk-1.0.0', progress: () => undefined });
    const v2 = await writeTestLayout(path.join(tmp, 'stick-v2'), [layer('usr/base', 'base'), layer('etc/app', 'v2')], 'kiosk-1.1.0');
    const r = await slot.write({ ...v2, ref: 'kiosk-1.1.0', progress: () => undefined });
    const shared = v2.image.manifest.layers[0]!;
    const all = [v2.image.configDescriptor, ...v2.image.manifest.layers, v2.image.manifestDescriptor];
    expect(r.bytesRead).toBe(all.reduce((s, d) => s + d.size, 0) - shared.size);
    const local = await OciLayout.open(path.join(stateDir, 'bootc', 'oci'));
    const index = await local.readIndex();
    expect(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toEqual(['kiosk-1.1.0']);
    expect(fs.readdirSync(path.join(stateDir, 'bootc', 'oci', 'blobs', 'sha256')).sort()).toEqual(all.map((d) => d.digest.slice(7)).sort());
    expect(fs.readFileSync(path.join(state, 'staged'), 'utf8').trim()).toBe(v2.image.manifestDescriptor.digest);
  });

  it('fails with BOOTC_FAILED when bootc stages a different digest than the signed one', async () => {
    const { bin } = await fakeBootc('liar', 'lie');
    const slot = createSlot('B', { type: 'bootc', bootcPath: bin }, { stateDir: path.join(tmp, 'dev3') });
    const stick = await writeTestLayout(path.join(tmp, 'stick3'), [layer('f', 'x')], 'kiosk-2.0.0');
    await expect(slot.write({ ...stick, ref: 'kiosk-2.0.0', progress: () => undefined })).rejects.toMatchObject({
      code: 'BOOTC_FAILED',
      details: { expected: stick.image.manifestDescriptor.digest, staged: stick.image.configDescriptor.digest },
    });
  });

  it('fails with BOOTC_FAILED and bootc\'s own words when the switch fails', async () => {
    const { bin } = await fakeBootc('broken', 'fail');
    const slot = createSlot('B', { type: 'bootc', bootcPath: bin }, { stateDir: path.join(tmp, 'dev4') });
    const stick = await writeTestLayout(path.join(tmp, 'stick4'), [layer('f', 'x')], 'kiosk-2.0.0');
    await expect(slot.write({ ...stick, ref: 'kiosk-2.0.0', progress: () => undefined })).rejects.toMatchObject({ code: 'BOOTC_FAILED', message: expect.stringContaining('disk full') });
    const missing = createSlot('B', { type: 'bootc', bootcPath: path.join(tmp, 'no-such-bootc') }, { stateDir: path.join(tmp, 'dev4') });
    await expect(missing.write({ ...stick, ref: 'kiosk-2.0.0', progress: () => undefined })).rejects.toMatchObject({ code: 'BOOTC_FAILED' });
  });

  it('never calls bootc when a blob on the stick was altered, and keeps no copy of it', async () => {
    const { bin, state } = await fakeBootc('tamper', 'honest');
    const stateDir = path.join(tmp, 'dev5');
    const slot = createSlot('B', { type: 'bootc', bootcPath: bin }, { stateDir });
    const tar = tarArchive([{ name: 'f', data: 'genuine' }]);
    const stick = await writeTestLayout(path.join(tmp, 'stick5'), [{ tar, compression: 'none', tamperedBlob: tarArchive([{ name: 'f', data: 'evil!!!' }]) }], 'kiosk-3.0.0');
    await expect(slot.write({ ...stick, ref: 'kiosk-3.0.0', progress: () => undefined })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(fs.existsSync(path.join(state, 'argv'))).toBe(false);
    expect(fs.existsSync(path.join(stateDir, 'bootc', 'oci', 'blobs', 'sha256', stick.image.manifest.layers[0]!.digest.slice(7)))).toBe(false);
  });
});
