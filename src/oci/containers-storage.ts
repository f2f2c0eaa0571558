/**
 * The `containers-storage:` input transport (containers-transports(5)): the local image store
 * where `podman build` and `buildah` leave images, e.g. `containers-storage:localhost/kiosk:1.1.0`
 * or, for another store, `containers-storage:[vfs@/var/lib/containers/storage+/run/containers/storage]localhost/kiosk:1.1.0`.
 * The store's on-disk format (overlay or vfs layers plus tar-split metadata) belongs to
 * containers/storage; ferry does not parse it. It asks skopeo, which links that library, to copy
 * the image into a private OCI layout (`skopeo copy containers-storage:… oci:DIR:image`, the
 * documented fallback of the issue, and the same bytes podman would push), and reads that layout
 * like any `oci:` input. The copy is removed when the process exits.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { FerryError } from '../errors.js';

/** Copy `reference` out of containers storage into a temporary OCI layout; returns its folder and ref. */
export async function copyFromContainersStorage(reference: string, describe: string): Promise<{ layout: string; ref: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-containers-storage-'));
  // the export reads the layout lazily, after this returns: remove it when ferry ends
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const layout = path.join(dir, 'oci');
  const copied = new Promise<void>((resolve, reject) => {
    execFile('skopeo', ['copy', '--quiet', `containers-storage:${reference}`, `oci:${layout}:image`], { maxBuffer: 1024 * 1024 }, (err, _out, stderr) => {
      if (!err) return resolve();
      // skopeo logs `time=… level=fatal msg="…"`: keep the message
      const last = String(stderr).trim().split('\n').pop() ?? '';
      const msg = /msg="(.*)"$/.exec(last)?.[1]?.replace(/\\"/g, '"') ?? last;
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'skopeo is not installed (apt-get install skopeo)' : msg || err.message;
      reject(new FerryError('IMAGE_NOT_FOUND', `${describe}: cannot read it from containers storage: ${why}`, { cause: err }));
    });
  });
  await copied.catch(async (e: unknown) => {
    await fsp.rm(dir, { recursive: true, force: true });
    throw e;
  });
  return { layout, ref: 'image' };
}
