/**
 * The campaign file's structure (pure): YAML or JSON text in, a Campaign with relative
 * paths resolved against the file's folder, plus every problem found with its line.
 * Files named in it are checked by load.ts.
 */
import * as path from 'node:path';
import type { Node } from 'yaml';
import { FerryError } from '../../errors.js';
import { checkTargetAndVersion, parseInputName } from '../../oci/input-name.js';
import { parsePlatform } from '../../oci/types.js';
import { parseUtc } from '../../trust/manifest.js';
import { type Campaign, type CampaignImage, type CampaignSigner, campaignUpdateId } from './types.js';
import { YamlWalk } from './yaml-walk.js';

const TOP_KEYS = ['name', 'label', 'images', 'signers', 'requiredSigners', 'crl', 'crossCertificates'] as const;
const IMAGE_KEYS = ['image', 'target', 'version', 'compatible', 'replaces', 'counter', 'notes', 'rollout', 'requires', 'platform', 'compress', 'fileIndex', 'checkLayers'] as const;
const SIGNER_KEYS = ['dir', 'passphraseEnv', 'passphraseFile'] as const;
const COMPRESS = ['keep', 'gzip', 'zstd', 'none'] as const;
/** Transports whose path is a local file or folder (resolved against the campaign file's folder). */
const LOCAL_TRANSPORTS = new Set(['oci', 'oci-archive', 'docker-archive', 'rootfs']);
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What parseCampaign found: the campaign (when its shape allowed one) and every problem. */
export interface ParsedCampaign {
  campaign: Campaign | undefined;
  problems: YamlWalk['problems'];
  /** Paths to check on disk, with where they were written (load.ts). */
  files: { path: string; kind: 'image' | 'notes' | 'signer' | 'passphrase' | 'crl' | 'cross'; line: number }[];
}

/** Catch a thrown FerryError from a shared checker (input name, target, platform) as a problem at `node`. */
function tryCheck<T>(w: YamlWalk, node: Node | undefined, what: string, check: () => T): T | undefined {
  try {
    return check();
  } catch (e) {
    if (e instanceof FerryError) return w.fail(node, `${what}: ${e.message}`);
    throw e;
  }
}

/** Parse and check a campaign's text; `file` is its path (for messages and relative paths). */
export function parseCampaign(file: string, text: string): ParsedCampaign {
  const abs = path.resolve(file);
  const base = path.dirname(abs);
  const w = new YamlWalk(abs, text);
  const files: ParsedCampaign['files'] = [];
  const resolve = (p: string) => path.resolve(base, p);
  const top = w.root === undefined ? w.fail(undefined, 'the campaign file is empty') : w.map(w.root, 'campaign', TOP_KEYS);
  if (!top) return { campaign: undefined, problems: w.problems, files };

  const name = top.has('name') ? w.str(top.get('name'), 'name') : w.fail(w.root, 'campaign: "name" is missing');
  if (name !== undefined && !NAME_RE.test(name)) w.fail(top.get('name'), `name "${name}" must be letters, digits, ".", "_" or "-" (at most 64)`);
  const label = top.has('label') ? w.str(top.get('label'), 'label') : undefined;
  if (label !== undefined && !LABEL_RE.test(label)) w.fail(top.get('label'), `label "${label}" must be at most 32 letters, digits, spaces, ".", "_" or "-"`);

  const signers = parseSigners(w, top.get('signers'), top.has('signers'), resolve, files);
  const required = top.has('requiredSigners') ? w.int(top.get('requiredSigners'), 'requiredSigners') : signers.length;
  if (required !== undefined && (required < 1 || required > signers.length) && signers.length > 0) {
    w.fail(top.get('requiredSigners'), `requiredSigners ${required} must be between 1 and the ${signers.length} signer(s) listed`);
  }
  const images = parseImages(w, top.get('images'), top.has('images'), resolve, files);
  checkDuplicates(w, images);

  const crl = top.has('crl') ? w.str(top.get('crl'), 'crl') : undefined;
  if (crl !== undefined) files.push({ path: resolve(crl), kind: 'crl', line: w.line(top.get('crl')) });
  const cross = top.has('crossCertificates') ? (w.strings(top.get('crossCertificates'), 'crossCertificates') ?? []) : [];
  for (const c of cross) files.push({ path: resolve(c.value), kind: 'cross', line: w.line(c.node) });

  const campaign: Campaign | undefined =
    name === undefined
      ? undefined
      : {
          file: abs,
          name,
          ...(label !== undefined ? { label } : {}),
          images: images.map((i) => i.image),
          signers,
          requiredSigners: required ?? signers.length,
          ...(crl !== undefined ? { crl: resolve(crl) } : {}),
          crossCertificates: cross.map((c) => resolve(c.value)),
        };
  return { campaign, problems: w.problems, files };
}

function parseSigners(w: YamlWalk, node: Node | undefined, present: boolean, resolve: (p: string) => string, files: ParsedCampaign['files']): CampaignSigner[] {
  if (!present) return w.fail(undefined, 'campaign: "signers" is missing (a list of signer folders, as ferry export --signer takes them)') ?? [];
  const items = w.seq(node, 'signers') ?? [];
  if (items.length === 0 && node) w.fail(node, 'signers: list at least one signer');
  const out: CampaignSigner[] = [];
  items.forEach((n, i) => {
    const what = `signers[${i}]`;
    const m = w.map(n, what, SIGNER_KEYS);
    if (!m) return;
    const dir = m.has('dir') ? w.str(m.get('dir'), `${what}.dir`) : w.fail(n, `${what}: "dir" is missing (the folder with key.pem and cert.pem)`);
    const env = m.has('passphraseEnv') ? w.str(m.get('passphraseEnv'), `${what}.passphraseEnv`) : undefined;
    const pf = m.has('passphraseFile') ? w.str(m.get('passphraseFile'), `${what}.passphraseFile`) : undefined;
    if (env !== undefined && pf !== undefined) w.fail(n, `${what}: give passphraseEnv or passphraseFile, not both`);
    if (dir === undefined) return;
    const line = w.line(n);
    // the same signer twice would be two SignerInfos that devices count once
    const twice = out.find((o) => o.dir === resolve(dir));
    if (twice) w.fail(n, `${what}: signer ${dir} is listed twice (first at line ${twice.at.line})`);
    files.push({ path: resolve(dir), kind: 'signer', line });
    if (pf !== undefined) files.push({ path: resolve(pf), kind: 'passphrase', line: w.line(m.get('passphraseFile')) });
    out.push({ dir: resolve(dir), ...(env !== undefined ? { passphraseEnv: env } : {}), ...(pf !== undefined ? { passphraseFile: resolve(pf) } : {}), at: { file: w.file, line } });
  });
  return out;
}

interface ParsedImage {
  image: CampaignImage;
  node: Node | undefined;
  /** Compatible strings with their nodes (for the shared-string check). */
  compatible: { value: string; node: Node | undefined }[];
}

function parseImages(w: YamlWalk, node: Node | undefined, present: boolean, resolve: (p: string) => string, files: ParsedCampaign['files']): ParsedImage[] {
  if (!present) return w.fail(undefined, 'campaign: "images" is missing (a list of images with target, version and compatible strings)') ?? [];
  const items = w.seq(node, 'images') ?? [];
  if (items.length === 0 && node) w.fail(node, 'images: list at least one image');
  const out: ParsedImage[] = [];
  items.forEach((n, i) => {
    const p = parseImage(w, n, `images[${i}]`, resolve, files);
    if (p) out.push(p);
  });
  return out;
}

/** The input name with a local path made absolute (the campaign is read from anywhere). */
function resolveInput(w: YamlWalk, node: Node | undefined, what: string, input: string, resolve: (p: string) => string, files: ParsedCampaign['files']): string | undefined {
  const parsed = tryCheck(w, node, what, () => parseInputName(input));
  if (!parsed) return undefined;
  if (!LOCAL_TRANSPORTS.has(parsed.transport)) return input;
  const abs = resolve(parsed.path);
  if (abs.includes(':')) return w.fail(node, `${what}: the path ${abs} contains ":", which input names cannot carry`);
  files.push({ path: abs, kind: 'image', line: w.line(node) });
  return `${parsed.transport}:${abs}${parsed.ref !== undefined ? `:${parsed.ref}` : ''}`;
}

function parseImage(w: YamlWalk, n: Node | undefined, what: string, resolve: (p: string) => string, files: ParsedCampaign['files']): ParsedImage | undefined {
  const m = w.map(n, what, IMAGE_KEYS);
  if (!m) return undefined;
  const need = (k: string, hint: string) => (m.has(k) ? w.str(m.get(k), `${what}.${k}`) : w.fail(n, `${what}: "${k}" is missing (${hint})`));
  const input = need('image', 'the input, as ferry export --image takes it');
  const target = need('target', 'the target name, e.g. kiosk');
  const version = need('version', 'a semantic version, e.g. 2.3.1');
  const image = input === undefined ? undefined : resolveInput(w, m.get('image'), `${what}.image`, input, resolve, files);
  if (target !== undefined && version !== undefined) tryCheck(w, m.get('target'), what, () => checkTargetAndVersion(target, version));
  const listed = m.has('compatible') ? w.strings(m.get('compatible'), `${what}.compatible`) : w.fail(n, `${what}: "compatible" is missing (the device compatible strings allowed to install it)`);
  if (listed?.length === 0) w.fail(m.get('compatible'), `${what}.compatible: list at least one device compatible string`);
  const compatible = listed ?? [];
  const replaces = m.has('replaces') ? (w.strings(m.get('replaces'), `${what}.replaces`) ?? []).map((r) => r.value) : [];
  const counter = m.has('counter') ? w.int(m.get('counter'), `${what}.counter`) : undefined;
  const notes = m.has('notes') ? w.str(m.get('notes'), `${what}.notes`) : undefined;
  if (notes !== undefined) files.push({ path: resolve(notes), kind: 'notes', line: w.line(m.get('notes')) });
  const rollout = m.has('rollout') ? parseRollout(w, m.get('rollout'), `${what}.rollout`) : {};
  const req = m.has('requires') ? w.map(m.get('requires'), `${what}.requires`, ['minCounter']) : undefined;
  const minCounter = req?.has('minCounter') ? w.int(req.get('minCounter'), `${what}.requires.minCounter`) : undefined;
  const platform = m.has('platform') ? w.str(m.get('platform'), `${what}.platform`) : undefined;
  if (platform !== undefined) tryCheck(w, m.get('platform'), `${what}.platform`, () => parsePlatform(platform));
  const compress = m.has('compress') ? w.str(m.get('compress'), `${what}.compress`) : 'keep';
  if (compress !== undefined && !(COMPRESS as readonly string[]).includes(compress)) w.fail(m.get('compress'), `${what}.compress must be one of ${COMPRESS.join(', ')}, not "${compress}"`);
  const flag = (k: string) => (m.has(k) ? (w.bool(m.get(k), `${what}.${k}`) ?? false) : false);
  if (image === undefined || target === undefined || version === undefined) return undefined;
  return {
    node: n,
    compatible,
    image: {
      image,
      target,
      version,
      compatible: compatible.map((c) => c.value),
      replaces,
      ...(counter !== undefined ? { counter } : {}),
      ...(notes !== undefined ? { notesFile: resolve(notes) } : {}),
      ...rollout,
      ...(minCounter !== undefined ? { minCounter } : {}),
      ...(platform !== undefined ? { platform } : {}),
      compress: (COMPRESS as readonly string[]).includes(compress ?? '') ? (compress as CampaignImage['compress']) : 'keep',
      fileIndex: flag('fileIndex'),
      checkLayers: flag('checkLayers'),
      at: { file: w.file, line: w.line(n) },
    },
  };
}

/** rollout: { notBefore: RFC 3339 UTC time, expires: date | RFC 3339 UTC time | days }. */
function parseRollout(w: YamlWalk, node: Node | undefined, what: string): { notBefore?: string; expires?: string } {
  const m = w.map(node, what, ['notBefore', 'expires']);
  if (!m) return {};
  const notBefore = m.has('notBefore') ? w.str(m.get('notBefore'), `${what}.notBefore`) : undefined;
  if (notBefore !== undefined && parseUtc(notBefore) === undefined) w.fail(m.get('notBefore'), `${what}.notBefore "${notBefore}" is not an RFC 3339 UTC time (2027-03-01T00:00:00Z)`);
  const expires = m.has('expires') ? w.str(m.get('expires'), `${what}.expires`) : undefined;
  const t = expires === undefined ? undefined : expiryTime(expires);
  if (expires !== undefined && t === undefined) w.fail(m.get('expires'), `${what}.expires "${expires}" is neither a number of days, a date (2027-01-31) nor an RFC 3339 UTC time`);
  const nb = notBefore === undefined ? undefined : parseUtc(notBefore);
  if (nb !== undefined && t !== undefined && t !== 'days' && t <= nb) w.fail(m.get('expires'), `${what}: expires ${expires} is not after notBefore ${notBefore}`);
  return { ...(notBefore !== undefined ? { notBefore } : {}), ...(expires !== undefined ? { expires } : {}) };
}

/** The expiry as an instant, 'days' for a relative one, undefined when unreadable (the same forms as --expires). */
function expiryTime(s: string): number | 'days' | undefined {
  if (/^\d{1,5}$/.test(s)) return 'days';
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return parseUtc(`${s}T00:00:00Z`);
  return parseUtc(s);
}

/**
 * One update id per campaign, and a compatible string belongs to one target only: a device
 * class that two targets claim would be offered both, and which one it follows would depend
 * on the order of the stick's files.
 */
function checkDuplicates(w: YamlWalk, images: ParsedImage[]): void {
  const ids = new Map<string, number>();
  const owner = new Map<string, { target: string; line: number }>();
  for (const p of images) {
    const id = campaignUpdateId(p.image);
    const first = ids.get(id);
    if (first !== undefined) w.fail(p.node, `image ${id} is listed twice (first at line ${first}): each target and version once`);
    else ids.set(id, w.line(p.node));
    const listed = new Set<string>();
    for (const c of p.compatible) {
      if (listed.has(c.value)) {
        w.fail(c.node, `compatible string "${c.value}" is listed twice for ${id}`);
        continue;
      }
      listed.add(c.value);
      const o = owner.get(c.value);
      // quoting matters: in YAML [acme,kiosk-v2] is two strings; write ["acme,kiosk-v2"]
      if (o && o.target !== p.image.target) w.fail(c.node, `compatible string "${c.value}" is claimed by target ${p.image.target} and by target ${o.target} (line ${o.line}): a device class follows one target (quote strings with a comma: ["acme,kiosk-v2"])`);
      else if (!o) owner.set(c.value, { target: p.image.target, line: w.line(c.node) });
    }
  }
}
