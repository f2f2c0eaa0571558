/**
 * Commands print only through src/cli/run.ts (printLines, printNotes, printJson), where every
 * line is sanitised for the terminal; the library (src/ outside cli/ and the executable's
 * entry) never prints at all.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

const DIRECT = /process\.(stdout|stderr)\.write|console\.(log|error|warn|info)/;

describe('printing goes through the sanitising helpers', () => {
  it('no command writes to stdout or stderr itself', () => {
    const offenders = files('src/cli/commands').filter((f) => DIRECT.test(fs.readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the library prints nothing (only the CLI, the TUI and the executable entry do)', () => {
    const offenders = files('src')
      .filter((f) => !f.startsWith(path.join('src', 'cli')) && f !== path.join('src', 'sea', 'entry.ts'))
      .filter((f) => DIRECT.test(fs.readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
