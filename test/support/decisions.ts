/** Decision records for tests: valid, distinct and reproducible from a number. */
import { type Decision, decisionFromJSON, encodeDecision } from '../../src/decision.js';
import type { Batch } from '../../src/store/store.js';

const ISSUERS = ['https://login.consumer.example', 'https://login.enterprise.example'];

/** Returns the JSON body a validator would send for decision number `n`. */
export function decisionJSON(
  n: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const accept = n % 3 !== 0;
  return {
    id: `test-${n}`,
    time: 1_700_000_000_000 + n,
    decision: accept ? 'accept' : 'reject',
    reason: accept ? 'ok' : 'key_domain_mismatch',
    iss: ISSUERS[n % 2],
    aud: 'https://mail.example.org',
    key_domain: n % 2 === 0 ? 'consumer' : 'enterprise',
    kid: `key-${n % 7}`,
    rp: 'mail',
    ...overrides,
  };
}

/** Returns decision number `n` as the ledger stores it for `validator`. */
export function decision(n: number, validator = 'tester'): Decision {
  return decisionFromJSON(decisionJSON(n), validator);
}

/** Returns decisions [from, from + count). */
export function decisions(from: number, count: number, validator = 'tester'): Decision[] {
  return Array.from({ length: count }, (_, i) => decision(from + i, validator));
}

/**
 * Returns a batch that starts a new log with `logged` as its entries, for
 * tests of what a store or indexer does with committed decisions. Its
 * checkpoint is not a signed tree head, only the size.
 */
export function firstBatchOf(logged: Decision[]): Batch {
  return {
    prevSize: 0,
    entries: logged.map((d, i) => ({
      index: i,
      data: encodeDecision(d),
      validator: d.validator,
      id: d.id,
    })),
    tiles: [],
    checkpoint: { size: logged.length, root: new Uint8Array(32), note: 'test\n', createdMs: 0 },
  };
}
