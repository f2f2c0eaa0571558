/** The cached CRL is kept in state.json as PEM text (DER inside); these convert both ways. */

/** DER bytes as an "X509 CRL" PEM block (RFC 7468). */
export function derToPem(der: Uint8Array, label = 'X509 CRL'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** The DER bytes of the first PEM block with `label`, or undefined. */
export function pemToDer(pem: string, label = 'X509 CRL'): Buffer | undefined {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : undefined;
}
