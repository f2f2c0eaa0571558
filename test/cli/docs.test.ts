import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliReference, errorReference, GENERATED } from '../../scripts/gen-docs.js';
import { ERROR_CODES } from '../../src/errors.js';

describe('generated reference docs', () => {
  it('docs/cli.md matches every command\'s --help (run npm run docs after changing an option)', () => {
    expect(fs.readFileSync(GENERATED.cli, 'utf8')).toBe(cliReference());
  });

  it('docs/errors.md lists every error code with its exit code (run npm run docs after adding a code)', () => {
    const text = fs.readFileSync(GENERATED.errors, 'utf8');
    expect(text).toBe(errorReference());
    for (const code of Object.keys(ERROR_CODES)) expect(text).toContain(`| \`${code}\` |`);
  });

  it('docs/errors.md says where each error is met (headquarters, device or both) and what to do there (issue 11, finding 13)', () => {
    const rows = new Map(
      errorReference()
        .split('\n')
        .filter((l) => l.startsWith('| `'))
        .map((l) => {
          const cells = l.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, ''));
          return [cells[0]!.replaceAll('`', ''), { where: cells[2]!, hq: cells[3]!, device: cells[4]! }] as const;
        }),
    );
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(errorReference()).toContain('| code | exit code | where | at headquarters | on the device |');
    for (const [code, r] of rows) {
      expect(['headquarters', 'device', 'both'], code).toContain(r.where);
      // advice given at headquarters never sends the reader to headquarters, and a cell is empty only where the error cannot happen
      if (r.where !== 'device') expect(r.hq, code).not.toMatch(/headquarters|call support|re-copy the stick|^—$/);
      if (r.where === 'device') expect(r.hq, code).toBe('—');
      if (r.where === 'headquarters') expect(r.device, code).toBe('—');
      else expect(r.device, code).not.toBe('—');
    }
    // the examples of the finding
    expect(rows.get('IMAGE_NOT_FOUND')!.where).toBe('both');
    expect(rows.get('IMAGE_NOT_FOUND')!.hq).toContain('--image');
    for (const code of ['VERSION_EXISTS', 'MEDIA_BUSY', 'PASSPHRASE_REQUIRED', 'KEY_INVALID']) expect(rows.get(code)!.where, code).toBe('headquarters');
    for (const code of ['CONFIG_INVALID', 'HEALTH_CHECK_FAILED', 'ROLLBACK_REFUSED']) expect(rows.get(code)!.where, code).toBe('device');
  });

  it('every command and subcommand has a description for --help', () => {
    const text = cliReference();
    const sections = text.split('\n## ').slice(1);
    expect(sections.length).toBeGreaterThan(15);
    for (const sec of sections) {
      // commander prints "Usage: …", a blank line, then the description before "Options:"
      const help = sec.split('```')[1]!.trim().split('\n\n');
      expect(help[0], sec.split('\n')[0]).toMatch(/^Usage: /);
      expect(help[1], sec.split('\n')[0]).not.toMatch(/^(Options|Commands|Arguments):/);
    }
  });
});
