/**
 * Man pages from the commander help of the built executable (so they cannot drift from it):
 * ferry.1 (every command), ferry-device.1 (every `ferry device` command) and ferry-tui.1.
 * Usage: node dist/scripts/gen-man.js EXECUTABLE OUTDIR VERSION
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One page: its name, one-line summary, and the help texts it shows, each under a heading. */
interface Page {
  name: string;
  summary: string;
  sections: { heading: string; help: string }[];
  seeAlso: string[];
}

/** Help text as roff no-fill lines: backslashes escaped, control characters at line start neutralised. */
export function roffVerbatim(text: string): string {
  return text
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => l.replace(/\\/g, '\\e').replace(/^([.'])/, '\\&$1').replace(/-/g, '\\-'))
    .join('\n');
}

/** The roff source of one page. */
export function renderPage(p: Page, version: string, date: string): string {
  const out = [`.TH ${p.name.toUpperCase().replace(/-/g, '\\-')} 1 "${date}" "ferry ${version}" "User Commands"`, '.SH NAME', `${p.name.replace(/-/g, '\\-')} \\- ${p.summary}`];
  for (const s of p.sections) out.push(`.SH ${s.heading}`, '.nf', roffVerbatim(s.help), '.fi');
  out.push('.SH SEE ALSO', p.seeAlso.map((s) => `.BR ${s.replace(/-/g, '\\-').replace(/\(/, ' (')}`).join(',\n'));
  out.push('.PP', 'The full manual is /usr/share/doc/ferry/README.md.gz.');
  return out.join('\n') + '\n';
}

/** Subcommand names listed in a commander help text's "Commands:" section. */
function commandsOf(help: string): string[] {
  const block = help.split(/^Commands:\n/m)[1] ?? '';
  return [...block.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

function pages(exe: string): Page[] {
  const help = (...args: string[]) => execFileSync(exe, [...args, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '78' } });
  const top = help();
  const topCommands = commandsOf(top).filter((c) => c !== 'device');
  const deviceHelp = help('device');
  return [
    {
      name: 'ferry',
      summary: 'carry bootable OS images across the air gap: signed OCI media and verified A/B updates',
      sections: [{ heading: 'SYNOPSIS', help: top }, ...topCommands.map((c) => ({ heading: `COMMAND: ${c.toUpperCase()}`, help: help(c) }))],
      seeAlso: ['ferry-device(1)', 'ferry-tui(1)'],
    },
    {
      name: 'ferry-device',
      summary: 'verify and apply A/B updates on the device, boot-check, roll back, status, provisioning',
      sections: [{ heading: 'SYNOPSIS', help: deviceHelp }, ...commandsOf(deviceHelp).map((c) => ({ heading: `COMMAND: ${c.toUpperCase()}`, help: help('device', c) }))],
      seeAlso: ['ferry(1)', 'ferry-tui(1)'],
    },
    {
      name: 'ferry-tui',
      summary: "the technician's terminal UI: verify a ferry stick and apply an A/B update safely",
      sections: [{ heading: 'SYNOPSIS', help: help('tui') }],
      seeAlso: ['ferry(1)', 'ferry-device(1)'],
    },
  ];
}

const [exe, outDir, version] = process.argv.slice(2);
if (!exe || !outDir || !version) {
  process.stderr.write('usage: gen-man EXECUTABLE OUTDIR VERSION\n');
  process.exit(2);
}
// SOURCE_DATE_EPOCH keeps the pages (and so the package) reproducible
const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 0) * 1000 || Date.now()).toISOString().slice(0, 10);
mkdirSync(outDir, { recursive: true });
for (const p of pages(exe)) writeFileSync(join(outDir, `${p.name}.1`), renderPage(p, version, date));
