/**
 * The update manifest (DESIGN.md section 2) and the trust inputs of verification
 * (section 3). Shared by export (writes it), verify, and the device engine.
 */
import type { Descriptor, Platform } from '../oci/types.js';

export const UPDATE_SCHEMA = 'ferry.update/v1';

/** `FERRY/updates/<id>.json`, schema ferry.update/v1. */
export interface UpdateManifest {
  schema: typeof UPDATE_SCHEMA;
  /** `<target>-<version>`. */
  id: string;
  /** RFC 3339 UTC. */
  created: string;
  /** RFC 3339 UTC. */
  expires: string;
  target: {
    name: string;
    /** A device installs only when its own compatible string is listed. */
    compatible: string[];
    /** semver, for humans. */
    version: string;
    /** Release counter, strictly increasing per target: the anti-rollback value. */
    counter: number;
    requires?: { minCounter?: number };
  };
  image: {
    /** The ref name in FERRY/oci/index.json (= id). */
    ref: string;
    /** The OCI image manifest descriptor: pins config and every layer. */
    manifest: Descriptor;
    platform: Platform;
    /** config + layer sizes, for progress and space checks. */
    payloadBytes: number;
  };
  notes?: string;
  rollout?: { notBefore?: string };
}
