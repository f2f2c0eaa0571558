/**
 * A small DER encoder (X.690 section 10) for what node-forge cannot build: the X.509
 * v2 CRL (RFC 5280 section 5) and CMS SignedData with several SignerInfos built from
 * a pluggable Signer (RFC 5652). Pure.
 */

/** Encode one TLV with a definite, minimal length. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const len = content.length;
  let hdr: number[];
  if (len < 0x80) hdr = [tag, len];
  else {
    const bytes: number[] = [];
    for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    hdr = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(hdr), content]);
}

/** SEQUENCE of already-encoded parts. */
export function seq(...parts: Uint8Array[]): Buffer {
  return tlv(0x30, Buffer.concat(parts));
}

/** SET OF: DER sorts the encodings (X.690 11.6). */
export function setOf(parts: Uint8Array[], tag = 0x31): Buffer {
  const sorted = [...parts].map((p) => Buffer.from(p)).sort(Buffer.compare);
  return tlv(tag, Buffer.concat(sorted));
}

/** INTEGER from a non-negative bigint or number. */
export function integer(v: bigint | number): Buffer {
  let hex = BigInt(v).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const b = Buffer.from(hex, 'hex');
  return tlv(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const all = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  for (const a of all) {
    const bytes = [a & 0x7f];
    for (let v = Math.floor(a / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

/** OCTET STRING. */
export function octets(b: Uint8Array): Buffer {
  return tlv(0x04, b);
}

/** BIT STRING with no unused bits. */
export function bitString(b: Uint8Array): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
}

/** NULL. */
export function nul(): Buffer {
  return Buffer.from([0x05, 0x00]);
}

/** Time as RFC 5280 4.1.2.5 wants it: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Buffer {
  const iso = d.toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(digits.slice(2) + 'Z', 'latin1'));
  return tlv(0x18, Buffer.from(digits + 'Z', 'latin1'));
}

/** [n] EXPLICIT wrapper (constructed context tag around one encoding). */
export function explicit(n: number, inner: Uint8Array): Buffer {
  return tlv(0xa0 | n, inner);
}

/** AlgorithmIdentifier { oid, NULL } (or no parameters when `noParams`). */
export function algorithm(dotted: string, noParams = false): Buffer {
  return noParams ? seq(oid(dotted)) : seq(oid(dotted), nul());
}

/** PEM-armour DER bytes. */
export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** All PEM blocks with `label` in `text`, as DER (pure; caps are the caller's). */
export function fromPem(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
