/**
 * Test JWTs for the simulated Kustomer Core: HS256-shaped, unsigned.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// makeTestJwt
// ---------------------------------------------------------------------------------------------

/**
 * Makes an HS256-shaped, unsigned JWT for tests and the example page: base64url header and
 * payload, and a fake signature. Never use it against a real Kustomer org.
 *
 * @example Usage
 * ```ts
 * import { makeTestJwt } from "./jwt.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = makeTestJwt({ externalId: "u-1", iat: Math.floor(Date.now() / 1000) });
 * assertEquals(token.split(".").length, 3);
 * ```
 *
 * @param claims The payload claims, e.g. `{ externalId, email, iat }` (`iat` in seconds).
 * @returns The token `header.payload.signature`.
 */
export function makeTestJwt(claims: Record<string, unknown>): string {
  const header = _base64UrlEncode(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = _base64UrlEncode(JSON.stringify(claims));
  const signature = _base64UrlEncode("simulated-signature-not-verified");
  return `${header}.${payload}.${signature}`;
}

export function _base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function _base64UrlDecode(part: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new TypeError("not base64url");
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}
