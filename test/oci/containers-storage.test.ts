import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInputName } from '../../src/oci/input-name.js';
import { copyFromContainersStorage } from '../../src/oci/containers-storage.js';
import { FerryError } from '../../src/errors.js';

describe('containers-storage: input names', () => {
  it('keeps the whole image reference, store specifier, tag and digest included', () => {
    expect(parseInputName('containers-storage:localhost/kiosk:1.1.0')).toEqual({ transport: 'containers-storage', path: 'localhost/kiosk:1.1.0' });
    const ref = '[vfs@/var/lib/containers/storage+/run/containers/storage]localhost/kiosk:1.1.0';
    expect(parseInputName(`containers-storage:${ref}`).path).toBe(ref);
    for (const bad of ['containers-storage:', 'containers-storage:kiosk 1.0']) expect(() => parseInputName(bad)).toThrow(/BAD_INPUT_NAME|reference/);
  });

  it('reports an image the store does not hold as IMAGE_NOT_FOUND with skopeo\'s reason', async () => {
    // an empty private store (skopeo creates it), never the machine's own
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-cs-'));
    const err = await copyFromContainersStorage(`[vfs@${dir}/storage+${dir}/run]localhost/none:0`, 'containers-storage:none').catch((e: unknown) => e);
    await fsp.rm(dir, { recursive: true, force: true });
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('IMAGE_NOT_FOUND');
    expect((err as FerryError).message).toMatch(/^containers-storage:none: cannot read it from containers storage: \S/);
  });
});
