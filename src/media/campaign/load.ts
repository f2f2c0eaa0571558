/**
 * `loadCampaign`: read a campaign file (YAML or JSON), check its structure (parse.ts) and
 * the files it names, and refuse it with CAMPAIGN_INVALID listing every problem with file
 * and line, before anything is written anywhere.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { readCertificates } from '../../trust/keys.js';
import { readFileCapped } from '../../util/fsx.js';
import { parseCampaign, type ParsedCampaign } from './parse.js';
import type { Campaign, CampaignProblem } from './types.js';

/** A campaign file is a page of YAML: 1 MiB is far more than any fleet needs. */
const CAMPAIGN_CAP = 1024 * 1024;
/** Release notes are shown on a device screen (as ferry export --notes). */
export const NOTES_CAP = 64 * 1024;

/** Options of loadCampaign. */
export interface LoadCampaignOptions {
  /**
   * Check the files the campaign names (inputs, notes, signer folders, CRL) and read the
   * notes (default true). False for readers that only need targets and compatible strings
   * (e.g. a receipts report), on a machine that may not hold the inputs.
   */
  checkFiles?: boolean;
}

/** The CAMPAIGN_INVALID error for a list of problems: one line naming them all, and the list in details. */
export function campaignInvalid(file: string, problems: CampaignProblem[]): FerryError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const list = sorted.map((p) => `${path.basename(p.file)}:${p.line}: ${p.message}`).join('; ');
  return new FerryError('CAMPAIGN_INVALID', `campaign ${file} has ${sorted.length} problem(s), nothing was written: ${list}`, {
    details: { file, problems: sorted.map((p) => ({ file: p.file, line: p.line, message: p.message })) },
  });
}

/** Load and check a campaign file; CAMPAIGN_INVALID lists every problem with its line. */
export async function loadCampaign(file: string, opts: LoadCampaignOptions = {}): Promise<Campaign> {
  let text: string;
  try {
    text = (await readFileCapped(file, CAMPAIGN_CAP, 'campaign file')).toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FerryError('USAGE', `campaign file ${file} does not exist: check the path`, { cause: e });
    throw e;
  }
  const parsed = parseCampaign(file, text);
  const problems = [...parsed.problems];
  const notes = opts.checkFiles === false ? await readNotesIfThere(parsed) : await checkFiles(parsed, problems);
  if (problems.length > 0 || !parsed.campaign) throw campaignInvalid(path.resolve(file), problems);
  const campaign = parsed.campaign;
  campaign.images = campaign.images.map((i) => (i.notesFile !== undefined && notes.has(i.notesFile) ? { ...i, notes: notes.get(i.notesFile)! } : i));
  return campaign;
}

/** Each file the campaign names must be there and readable; notes are read (capped) and returned by path. */
async function checkFiles(parsed: ParsedCampaign, problems: CampaignProblem[]): Promise<Map<string, string>> {
  const notes = new Map<string, string>();
  const file = parsed.campaign?.file ?? '';
  const fail = (line: number, message: string) => void problems.push({ file, line, message });
  for (const f of parsed.files) {
    const why = await unreadable(f.path, f.kind === 'signer' || f.kind === 'image' ? 'any' : 'file');
    if (why && f.kind === 'image') fail(f.line, `image input ${f.path} ${why}: build or copy the image first, or fix the path`);
    else if (why && f.kind === 'signer') fail(f.line, `signer folder ${f.path} ${why}`);
    else if (why) fail(f.line, `${f.kind === 'cross' ? 'cross-certificate' : f.kind === 'crl' ? 'CRL' : f.kind === 'notes' ? 'release notes' : 'passphrase'} file ${f.path} ${why}`);
    else if (f.kind === 'signer') await checkSignerFolder(f.path, (m) => fail(f.line, m));
    else if (f.kind === 'notes') {
      try {
        notes.set(f.path, (await readFileCapped(f.path, NOTES_CAP, 'release notes')).toString('utf8'));
      } catch (e) {
        fail(f.line, (e as Error).message);
      }
    } else if (f.kind === 'cross' || f.kind === 'crl') {
      const text = await fsp.readFile(f.path, 'utf8').catch(() => '');
      const label = f.kind === 'crl' ? 'X509 CRL' : 'CERTIFICATE';
      if (!text.includes(`-----BEGIN ${label}-----`)) fail(f.line, `${f.path} holds no PEM ${label}`);
    }
  }
  return notes;
}

/** Without the file checks, release notes are still read where they can be (a check compares them with the stick's). */
async function readNotesIfThere(parsed: ParsedCampaign): Promise<Map<string, string>> {
  const notes = new Map<string, string>();
  for (const f of parsed.files.filter((x) => x.kind === 'notes')) {
    const text = await readFileCapped(f.path, NOTES_CAP, 'release notes').then((b) => b.toString('utf8'), () => undefined);
    if (text !== undefined) notes.set(f.path, text);
  }
  return notes;
}

/** Why a path cannot be used (does not exist, unreadable, wrong kind), or undefined. */
async function unreadable(p: string, want: 'file' | 'any'): Promise<string | undefined> {
  const st = await fsp.stat(p).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) return st.code === 'ENOENT' || st.code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${st.code ?? st.message})`;
  if (want === 'file' && !st.isFile()) return 'is not a regular file';
  return fsp.access(p, fsp.constants.R_OK).then(() => undefined, () => 'cannot be read (permission denied)');
}

/** A signer folder holds key.pem and a parseable cert.pem (the key itself is decrypted when a build loads it). */
async function checkSignerFolder(dir: string, fail: (m: string) => void): Promise<void> {
  for (const f of ['key.pem', 'cert.pem']) {
    const why = await unreadable(path.join(dir, f), 'file');
    if (why) return fail(`signer folder ${dir}: ${f} ${why} (create one with ferry pki issue-signer)`);
  }
  try {
    await readCertificates(path.join(dir, 'cert.pem'), 'signer certificate');
  } catch (e) {
    fail(`signer folder ${dir}: ${(e as Error).message}`);
  }
}
