/**
 * The decisions the benchmarks append: valid, distinct and reproducible
 * from a prefix and a number, so that a receipt can be checked against the
 * leaf hash of the decision that was sent.
 */
import { decisionFromJSON, encodeDecision } from '../src/decision.js';
import { leafHash } from '../src/hash.js';
import type { Part } from './request-template.js';

const ISSUERS = ['https://login.consumer.example', 'https://login.enterprise.example'];

/** Distinct kid values; with n spread evenly, each kid is 1/KIDS of the log. */
export const KIDS = 97;

/** Decision time of decision 0, in milliseconds since 1970; decision n is n ms later. */
const FIRST_TIME_MS = 1_720_000_000_000;
/** One decision in REJECT_EVERY is a reject: those whose number is a multiple of it. */
const REJECT_EVERY = 5;
/** Distinct aud values. */
const AUDIENCES = 16;
/** Distinct tenant values. */
const TENANTS = 31;

/** Returns the JSON body a validator sends for decision `n`, with the ID `<prefix>-<n>`. */
export function decisionJSON(prefix: string, n: number): Record<string, unknown> {
  const accept = n % REJECT_EVERY !== 0;
  return {
    id: `${prefix}-${n}`,
    time: FIRST_TIME_MS + n,
    decision: accept ? 'accept' : 'reject',
    reason: accept ? 'ok' : 'key_domain_mismatch',
    iss: ISSUERS[n % 2],
    aud: `api://mail-${n % AUDIENCES}`,
    key_domain: n % 2 === 0 ? 'consumer' : 'enterprise',
    kid: kidOf(n),
    alg: 'RS256',
    tenant: `tenant-${n % TENANTS}`,
    rp: 'https://mail.example.org/',
  };
}

/**
 * Returns a template of JSON.stringify(decisionJSON(prefix, n)) for the load
 * generators: the same fields in the same order, so wrk sends the same bytes.
 */
export function decisionParts(prefix: string): Part[] {
  const json = (value: string) => JSON.stringify(value);
  const inString = (value: string) => json(value).slice(1, -1);
  const byRejects = (reject: string, accept: string) =>
    Array.from({ length: REJECT_EVERY }, (_, i) => json(i === 0 ? reject : accept));
  return [
    `{"id":"${inString(prefix)}-`,
    { integer: { of: 'n' } },
    '","time":',
    { integer: { of: 'n', add: FIRST_TIME_MS } },
    ',"decision":',
    { pick: byRejects('reject', 'accept'), by: { of: 'n' } },
    ',"reason":',
    { pick: byRejects('key_domain_mismatch', 'ok'), by: { of: 'n' } },
    ',"iss":',
    { pick: ISSUERS.map(json), by: { of: 'n' } },
    ',"aud":"api://mail-',
    { integer: { of: 'n', mod: AUDIENCES } },
    '","key_domain":',
    { pick: [json('consumer'), json('enterprise')], by: { of: 'n' } },
    ',"kid":"kid-2024-',
    { integer: { of: 'n', mod: KIDS } },
    '","alg":"RS256","tenant":"tenant-',
    { integer: { of: 'n', mod: TENANTS } },
    '","rp":"https://mail.example.org/"}',
  ];
}

/** Returns a template of batchBody(prefix, n * count, count): count decisions from n * count. */
export function batchParts(prefix: string, count: number): Part[] {
  return ['{"decisions":[', { repeat: count, separator: ',', parts: decisionParts(prefix) }, ']}'];
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
