/**
 * A campaign: which images, signed by whom, go onto which sticks (issue 15). The values
 * here are what `loadCampaign` returns after every check; paths are absolute (resolved
 * against the campaign file's folder), and each part keeps the line it came from, so
 * later checks (signer passphrases, the stick) can still point at the file.
 */

/** Where in the campaign file a value was written. */
export interface SourcePos {
  file: string;
  /** 1-based line. */
  line: number;
}

/** One problem in a campaign file, with its place. */
export interface CampaignProblem extends SourcePos {
  message: string;
}

/** A signer of every update of the campaign: a folder as `ferry export --signer` takes it. */
export interface CampaignSigner {
  /** Folder with key.pem and cert.pem (+ chain.pem), absolute. */
  dir: string;
  /** The key's passphrase from this environment variable (as --passphrase-env). */
  passphraseEnv?: string;
  /** The key's passphrase from this file, absolute (as --passphrase-file). */
  passphraseFile?: string;
  at: SourcePos;
}

/** One image of the campaign, with the options `ferry export --signer` takes for it. */
export interface CampaignImage {
  /** The input name as `ferry export --image` takes it, its path made absolute. */
  image: string;
  target: string;
  version: string;
  compatible: string[];
  replaces: string[];
  counter?: number;
  /** Release notes text (read from the notes file, at most 64 KiB). */
  notes?: string;
  notesFile?: string;
  /** Rollout window: not installed before this RFC 3339 UTC time (signed as rollout.notBefore). */
  notBefore?: string;
  /** The update's expiry, as --expires takes it: a date, an RFC 3339 UTC time or a number of days. */
  expires?: string;
  /** Signed as target.requires.minCounter. */
  minCounter?: number;
  /** os/arch, as --platform. */
  platform?: string;
  compress: 'keep' | 'gzip' | 'zstd' | 'none';
  fileIndex: boolean;
  checkLayers: boolean;
  at: SourcePos;
}

/** A whole campaign file, checked. */
export interface Campaign {
  /** The campaign file, absolute. */
  file: string;
  name: string;
  /** The stick label the packer writes on (and the campaign record on the stick names). */
  label?: string;
  images: CampaignImage[];
  signers: CampaignSigner[];
  /** How many of `signers` sign each update (default: all of them). */
  requiredSigners: number;
  /** A root-signed CRL to carry to FERRY/trust/crl.pem, absolute. */
  crl?: string;
  /** Cross-certificates (next roots) to carry to FERRY/trust/roots/, absolute. */
  crossCertificates: string[];
}

/** The update id of a campaign image (`<target>-<version>`, as on the stick). */
export function campaignUpdateId(img: Pick<CampaignImage, 'target' | 'version'>): string {
  return `${img.target}-${img.version}`;
}
