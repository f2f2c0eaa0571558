/**
 * Whether a media argument names a registry: apart from registry-media.ts, whose reader
 * pulls in the HTTP client and node:tls, which a command on a stick or a folder never needs.
 */

/** True when `media` names a registry rather than a folder or archive. */
export function isRegistryMedia(media: string): boolean {
  return media.startsWith('docker://');
}
