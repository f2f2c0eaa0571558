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
