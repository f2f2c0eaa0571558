/**
 * The update manifest (DESIGN.md section 2) and the trust inputs of verification
 * (section 3). Shared by export (writes it), verify, and the device engine.
 */
import type { X509Certificate } from 'node:crypto';
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
    /**
     * Earlier target names this one succeeds (DESIGN.md §6 "Target binding"): a device bound
     * to one of them may switch to this name; the old name's anti-rollback floor carries over.
     */
    replaces?: string[];
  };
  image: {
    /** The ref name in FERRY/oci/index.json (= id). */
    ref: string;
    /** The OCI image manifest descriptor: pins config and every layer. */
    manifest: Descriptor;
    platform: Platform;
    /** config + layer sizes, for progress and space checks. */
    payloadBytes: number;
    /**
     * Optional: sum of the uncompressed layer tar sizes (what a dir or block slot
     * receives, often 2-3x payloadBytes). Absent when export could not know it for sure.
     */
    unpackedBytes?: number;
    /**
     * The chunk index blob (application/vnd.ferry.chunks.v1+json, oci/chunk-index.ts): the
     * SHA-256 of every 4 MiB chunk of every layer, so the device verifies each chunk before
     * it decompresses a byte of it. Absent on media made before ferry 0.2 (policy.legacyMedia).
     */
    chunkIndex?: Descriptor;
    /**
     * Optional: the file index blob (application/vnd.ferry.files.v1+json+gzip,
     * oci/file-index-blob.ts): every file of the image's final tree with its metadata and
     * SHA-256, for `ferry inspect --diff` and for drift checks of a slot the device did not index.
     */
    fileIndex?: Descriptor;
    /**
     * Optional: where the image came from when export had to convert it, so its manifest
     * digest on the stick differs from the one the build pipeline, registries, cosign and
     * `bootc status` know (media/source-record.ts). Absent when the manifest was kept byte for byte.
     */
    source?: ImageSource;
  };
  notes?: string;
  rollout?: { notBefore?: string };
}

/** `image.source` of an update manifest: the input an image was converted from. */
export interface ImageSource {
  /** The input transport: oci, oci-archive, docker-archive, containers-storage. */
  transport: string;
  /** The image manifest digest the input had (absent for docker-archive: docker save keeps no manifest). */
  manifest?: string;
  /** docker-archive: docker's image ID (the config digest, kept byte for byte). */
  imageId?: string;
  /** Why the digest changed, for people: "layers re-encoded (--compress zstd)". */
  conversion: string;
}

/**
 * The signing seam: whatever holds the private key. `certificateChain[0]` is the
 * signer's certificate (DER), followed by its intermediates (not the root). `sign`
 * receives the DER SET of signed attributes (RFC 5652 5.4) and returns the raw
 * signature over it: RSA PKCS#1 v1.5 with SHA-256, or ECDSA with SHA-256 (DER
 * Ecdsa-Sig-Value), chosen by the certificate's key type. A file key implements it
 * (trust/signer.ts); an HSM or external signing command can implement the same two
 * members without ferry ever seeing the key.
 */
export interface Signer {
  certificateChain: Buffer[];
  sign(data: Buffer): Promise<Buffer>;
}

/**
 * Everything the verifier trusts, as plain data (STYLE.md rule 2): loaded once by
 * trust/load.ts (device) or built by tests; the verifier never reads files.
 */
export interface TrustMaterial {
  /** Trust anchors: root certificates, DER (or node:crypto X509Certificate objects). */
  roots: Array<Uint8Array | X509Certificate>;
  /** Cross-certificates (a new root's key certified by a trusted root), DER; from the device and the stick. */
  crossCerts?: Uint8Array[];
  /** The CRL the device cached last time (DER), if any. */
  cachedCrl?: Uint8Array;
  /** Newer CRL candidates, e.g. FERRY/trust/crl.pem from the stick (DER). */
  crlCandidates?: Uint8Array[];
  /** The newest time the device has verified (ms since epoch); 0 or absent when none. */
  trustedTime?: number;
}

/** What a device (or HQ-side verify) requires of an update. */
export interface VerifyPolicy {
  /** Distinct trusted signers needed (m-of-n); default 1. */
  requiredSigners?: number;
  /** The device's compatible string; omitted for HQ-side verification. */
  compatible?: string;
  /** Lowest acceptable counter per target name (anti-rollback). */
  counterFloor?: Record<string, number>;
  /** The version of the release that set each floor, when known: messages name versions, not counters. */
  floorVersion?: Record<string, string>;
  /** Accept a counter equal to the floor (reinstall of the same release). */
  allowSameVersion?: boolean;
  /** Counter currently installed per target, for `target.requires.minCounter`. */
  installedCounter?: Record<string, number>;
  /** Ignore `rollout.notBefore` (HQ-side checks). */
  ignoreRollout?: boolean;
}

/** One certificate of a validated chain, as technicians and auditors read it. */
export interface ChainCertificate {
  subject: string;
  issuer: string;
  /** Serial number, hex. */
  serial: string;
  /** Validity (RFC 3339). */
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER certificate, hex. */
  fingerprint: string;
}

/** A signer that verified and counted. */
export interface VerifiedSigner {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  /** The signingTime attribute this signer signed (RFC 3339). */
  signingTime: string;
  /** Subject of the trust anchor its chain ended at. */
  anchor: string;
  /** The validated chain: the signer, its intermediates (and cross-certificates), then the trust anchor. */
  chain: ChainCertificate[];
}

/** The verdict for an update that passed every check. */
export interface VerifiedUpdate {
  manifest: UpdateManifest;
  signers: VerifiedSigner[];
  /** The newest signingTime among the counted signers (ms). */
  signingTime: number;
  /** max(clock, trustedTime): the time every validity check used (ms). */
  effectiveTime: number;
  /** What the device should persist as its trusted time (ms); see verify.ts for the rule. */
  newTrustedTime: number;
  /** The CRL the device should cache now (DER), when a newer one was accepted. */
  crlToCache?: Buffer;
}
