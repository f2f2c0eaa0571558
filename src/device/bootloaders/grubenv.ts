/**
 * The GRUB environment block (grub-core/lib/envblk.c, `grub-editenv`): a file of
 * fixed size (1024 bytes as created by `grub-editenv create`) that starts with
 * "# GRUB Environment Block\n", holds `name=value\n` lines in which a backslash or
 * newline inside a value is escaped with a backslash, and is padded with '#' to
 * its full size. GRUB's `load_env`/`save_env` rewrite it in place and never change
 * its size, which is why it is padded rather than truncated. Pure: bytes in, bytes out.
 */
import { FerryError } from '../../errors.js';

export const GRUBENV_SIGNATURE = '# GRUB Environment Block\n';
export const GRUBENV_SIZE = 1024;
/** Refuse to read anything larger than this as an environment block. */
export const GRUBENV_MAX = 64 * 1024;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Decode an environment block into its variables, in file order. */
export function decodeGrubenv(bytes: Uint8Array): Map<string, string> {
  if (bytes.length > GRUBENV_MAX) throw new FerryError('BOOTLOADER_ERROR', `grubenv is ${bytes.length} bytes, larger than any GRUB environment block`);
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.startsWith(GRUBENV_SIGNATURE)) {
    throw new FerryError('BOOTLOADER_ERROR', 'grubenv does not start with "# GRUB Environment Block": recreate it with `grub-editenv <file> create`');
  }
  const vars = new Map<string, string>();
  let p = GRUBENV_SIGNATURE.length;
  while (p < text.length) {
    // envblk.c: a line starting with '#' is skipped (that is also how the padding is skipped).
    if (text[p] === '#' || text[p] === '\n') {
      const nl = text.indexOf('\n', p);
      p = nl < 0 ? text.length : nl + 1;
      continue;
    }
    const eq = text.indexOf('=', p);
    if (eq < 0) break;
    const name = text.slice(p, eq);
    let value = '';
    let q = eq + 1;
    for (; q < text.length && text[q] !== '\n'; q++) {
      if (text[q] === '\\' && q + 1 < text.length) q++;
      value += text[q];
    }
    if (name.includes('\n')) throw new FerryError('BOOTLOADER_ERROR', 'grubenv holds a line without "=": the block is damaged; recreate it');
    vars.set(name, Buffer.from(value, 'latin1').toString('utf8'));
    p = q + 1;
  }
  return vars;
}

/** Encode variables into an environment block of exactly `size` bytes. */
export function encodeGrubenv(vars: ReadonlyMap<string, string>, size = GRUBENV_SIZE): Buffer {
  let body = GRUBENV_SIGNATURE;
  for (const [name, value] of vars) {
    if (!NAME_RE.test(name)) throw new FerryError('BOOTLOADER_ERROR', `"${name}" is not a valid grubenv variable name`);
    const raw = Buffer.from(value, 'utf8').toString('latin1');
    body += `${name}=${raw.replace(/[\\\n]/g, (c) => '\\' + c)}\n`;
  }
  if (body.length > size) {
    throw new FerryError('BOOTLOADER_ERROR', `grubenv needs ${body.length} bytes but the block has ${size}: remove unused variables with grub-editenv unset`);
  }
  return Buffer.from(body.padEnd(size, '#'), 'latin1');
}
