/**
 * The decisions the benchmarks append: valid, distinct and reproducible
 * from a prefix and a number, so that a receipt can be checked against the
 * leaf hash of the decision that was sent.
 */
import { decisionFromJSON, encodeDecision } from '../src/decision.js';
import { leafHash } from '../src/hash.js';

const ISSUERS = ['https://login.consumer.example', 'https://login.enterprise.example'];

/** Distinct kid values; with n spread evenly, each kid is 1/KIDS of the log. */
export const KIDS = 97;

/** Returns the JSON body a validator sends for decision `n`, with the ID `<prefix>-<n>`. */
export function decisionJSON(prefix: string, n: number): Record<string, unknown> {
  const accept = n % 5 !== 0;
  return {
    id: `${prefix}-${n}`,
    time: 1_720_000_000_000 + n,
    decision: accept ? 'accept' : 'reject',
    reason: accept ? 'ok' : 'key_domain_mismatch',
    iss: ISSUERS[n % 2],
    aud: `api://mail-${n % 16}`,
    key_domain: n % 2 === 0 ? 'consumer' : 'enterprise',
    kid: kidOf(n),
    alg: 'RS256',
    tenant: `tenant-${n % 31}`,
    rp: 'https://mail.example.org/',
  };
}

/** Returns the kid of decision `n`. */
export function kidOf(n: number): string {
  return `kid-2024-${n % KIDS}`;
}

/** Returns the request body `{"decisions": [...]}` of decisions [first, first + count). */
export function batchBody(prefix: string, first: number, count: number): string {
  const decisions = Array.from({ length: count }, (_, i) => decisionJSON(prefix, first + i));
  return JSON.stringify({ decisions });
}

/** Returns the leaf hash the ledger must log for decision `n` appended by `validator`. */
export function expectedLeafHash(prefix: string, n: number, validator: string): Uint8Array {
  return leafHash(encodeDecision(decisionFromJSON(decisionJSON(prefix, n), validator)));
}
