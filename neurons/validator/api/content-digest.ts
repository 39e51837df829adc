/**
 * The `Content-Digest` request header (RFC 9530): a structured-field dictionary of
 * `algorithm=:base64:` members. The gateway needs its `sha-256` member, the digest the Epistula
 * signature covers, before it reads the body.
 */

const SHA256_BYTES = 32;
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;

/** The header a body's digest is declared in, as the client sends it. */
export function contentDigestHeader(sha256: Uint8Array): string {
  return `sha-256=:${Buffer.from(sha256).toString("base64")}:`;
}

/**
 * The sha-256 digest a `Content-Digest` header declares; undefined when the header is malformed or
 * has no sha-256 member (other algorithms are ignored, as the RFC lets a recipient do).
 *
 * @example parseContentDigest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:") // 32 bytes
 */
export function parseContentDigest(header: string): Uint8Array | undefined {
  for (const member of header.split(",")) {
    const equals = member.indexOf("=");
    if (equals < 0) continue;
    if (member.slice(0, equals).trim().toLowerCase() !== "sha-256") continue;
    const match = BYTE_SEQUENCE.exec(member.slice(equals + 1).trim());
    if (match === null) return undefined;
    const digest = Buffer.from(match[1] ?? "", "base64");
    return digest.length === SHA256_BYTES ? new Uint8Array(digest) : undefined;
  }
  return undefined;
}
