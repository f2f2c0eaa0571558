import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandName, LAZY_COMMANDS, programFor } from '../../src/cli/lazy.js';
import { buildProgram } from '../../src/cli/program.js';

/** Every command's help below `cmd`, keyed by its path. */
function helps(cmd: Command, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  const name = prefix ? `${prefix} ${cmd.name()}` : cmd.name();
  cmd.configureHelp({ helpWidth: 100 });
  out.set(name, cmd.helpInformation());
  for (const sub of cmd.commands) for (const [k, v] of helps(sub, name)) out.set(k, v);
  return out;
}

describe('the one-command tree', () => {
  it('has an entry for every top-level command, so none pays for loading the others', () => {
    expect(buildProgram().commands.map((c) => c.name()).sort()).toEqual(Object.keys(LAZY_COMMANDS).sort());
  });

  it('gives each command exactly the help (options, subcommands) of the whole tree', async () => {
    const whole = new Map<string, string>();
    for (const c of buildProgram().commands) for (const [k, v] of helps(c)) whole.set(k, v);
    for (const name of Object.keys(LAZY_COMMANDS)) {
      const one = (await programFor([name, '--json'])).commands.find((c) => c.name() === name);
      expect(one, name).toBeDefined();
      for (const [k, v] of helps(one!)) expect(v, k).toBe(whole.get(k));
    }
  });

  it('builds the whole tree for help and unknown words, and none for --version', async () => {
    const all = buildProgram().commands.length;
    for (const args of [[], ['--help'], ['--version', '--help'], ['nosuch', 'x'], ['constructor']]) expect((await programFor(args)).commands, args.join(' ')).toHaveLength(all);
    // --version alone loads no command, and still answers
    expect((await programFor(['--version'])).commands).toHaveLength(0);
    expect((await programFor(['-V'])).version()).toBe(buildProgram().version());
    expect(commandName(['--json', 'device', 'apply'])).toBe('device');
  });
});
