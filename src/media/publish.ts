/**
 * The signing seam between export and trust: write FERRY/updates/<target>-<version>.json
 * and its detached CMS signature for an image already in FERRY/oci.
 * (Contract only; the trust issue implements the body.)
 */
import { FerryError } from '../errors.js';
import type { Descriptor, Platform } from '../oci/types.js';
import type { UpdateManifest } from '../trust/types.js';

export interface PublishRequest {
  /** The media root (the folder that holds FERRY/). */
  mediaRoot: string;
  target: string;
  version: string;
  /** The image manifest descriptor as written into FERRY/oci/index.json. */
  manifest: Descriptor;
  platform: Platform;
  payloadBytes: number;
  /** Folder with the signer's key.pem and cert.pem (+ chain.pem). */
  signerDir: string;
  compatible: string[];
  /** Release counter; derived from the version when omitted. */
  counter?: number;
  /** An RFC 3339 date or a number of days from now. */
  expires?: string;
  /** Release notes text (already read from --notes FILE). */
  notes?: string;
  /** Clock, injectable for tests. */
  now?: Date;
}

export interface PublishResult {
  manifestPath: string;
  signaturePath: string;
  manifest: UpdateManifest;
}

/** Create, sign and atomically write the update manifest and its signature. */
export async function publishUpdate(_req: PublishRequest): Promise<PublishResult> {
  throw new FerryError('INTERNAL', 'signing is not implemented yet');
}
