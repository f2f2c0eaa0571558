/**
 * One face for the engine: the terminal UI and `ferry device …` reach src/device/ only
 * through src/device/index.ts, so the two can never disagree about a state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = path.join(import.meta.dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** The src/device modules `file` imports other than index.ts (paths relative to the repository). */
function deviceImportsBesideIndex(file: string, src = fs.readFileSync(file, 'utf8')): string[] {
  const specs = [...src.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs
    .filter((sp) => sp.startsWith('.'))
    .map((sp) => path.relative(REPO, path.resolve(path.dirname(file), sp)))
    .filter((p) => p.startsWith(`src${path.sep}device${path.sep}`) && p !== path.join('src', 'device', 'index.js'));
}

describe('the engine\'s one public entry', () => {
  it('is the only part of src/device/ that tui/ and src/cli/commands/device.ts import', () => {
    const files = [...tsFiles(path.join(REPO, 'tui')), path.join(REPO, 'src', 'cli', 'commands', 'device.ts')];
    expect(files.length).toBeGreaterThan(20);
    const stray = Object.fromEntries(files.map((f) => [path.relative(REPO, f), deviceImportsBesideIndex(f)]).filter(([, v]) => v.length > 0));
    expect(stray).toEqual({});
  });

  it('notices a deep import (so the check above can fail)', () => {
    const probe = "import type { InstallPlan } from '../src/device/plan.js';\nimport { status } from '../src/device/index.js';\n";
    expect(deviceImportsBesideIndex(path.join(REPO, 'tui', 'probe.ts'), probe)).toEqual([path.join('src', 'device', 'plan.js')]);
  });
});
