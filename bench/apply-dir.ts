/**
 * Child process for the "apply to dir slot" row: ferry's extraction engine
 * (applyImageToDir: digest + diff_id checks, path sanitiser, GNU tar) on image REF of
 * an OCI layout, into ROOT — what `ferry device apply` runs for a dir slot, without the
 * signature and bootloader steps (measured in their own rows).
 * Usage: apply-dir.js LAYOUT REF ROOT
 */
import { mkdir } from 'node:fs/promises';
import { applyImageToDir } from '../src/device/extract/apply.js';
import { OciLayout } from '../src/oci/layout.js';
import { noProgress } from '../src/progress.js';

const [layoutDir, ref, root] = process.argv.slice(2);
if (!layoutDir || !ref || !root) {
  process.stderr.write('usage: apply-dir.js LAYOUT REF ROOT\n');
  process.exit(2);
}
const layout = await OciLayout.open(layoutDir);
const image = await layout.resolveImage(await layout.findRef(ref), { os: 'linux', architecture: 'amd64' }, ref);
await mkdir(root, { recursive: true });
const result = await applyImageToDir({ layout, image, ref, root, progress: noProgress });
process.stdout.write(`${JSON.stringify(result)}\n`);
