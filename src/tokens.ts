/**
 * Validator bearer tokens. Only the SHA-256 of a token is stored; a token is
 * shown once, when it is created.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256 } from './hash.js';
import { utf8 } from './encoding.js';

const TOKEN_PREFIX = 'declog_';

/** Returns a new random token: a fixed prefix and 32 random bytes in base64url. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Returns the hash under which a token is stored. */
export function hashToken(token: string): Uint8Array {
  return sha256(utf8(token));
}

/** Compares two token hashes in constant time. */
export function tokenHashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Validator names: what the ledger writes in each record's `validator` field. */
export const VALIDATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
