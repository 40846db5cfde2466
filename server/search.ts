/**
 * GET /v1/decisions: searches the decisions the index covers by kid, iss,
 * aud, key_domain, tenant, rp, decision and time, in index order, one page
 * at a time.
 */
import type { Hono } from 'hono';
import { decisionToJSON } from '../src/decision.js';
import { toHex } from '../src/encoding.js';
import { InputError } from '../src/errors.js';
import { leafHash } from '../src/hash.js';
import type { Ledger } from '../src/ledger.js';
import { SEARCH_FIELDS, type SearchQuery } from '../src/store/store.js';
import { storedDecision } from './entries.js';
import type { AppEnv } from './env.js';
import {
  type Query,
  boundedParam,
  decimalParam,
  readQuery,
  textParam,
  timeParam,
} from './query.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const PARAMETERS = [...SEARCH_FIELDS, 'since', 'until', 'limit', 'cursor'] as const;

/** Builds the store query. `cursor` is the decimal index of the last entry of the previous page. */
export function searchQuery(query: Query): SearchQuery {
  const equals: SearchQuery['equals'] = {};
  for (const field of SEARCH_FIELDS) {
    const value = textParam(query, field);
    if (value !== undefined) equals[field] = value;
  }
  if (
    equals.decision !== undefined &&
    equals.decision !== 'accept' &&
    equals.decision !== 'reject'
  ) {
    throw new InputError(
      'invalid_argument',
      `query parameter decision is ${JSON.stringify(equals.decision.slice(0, 40))}: use accept or reject`,
    );
  }
  const since = timeParam(query, 'since');
  const until = timeParam(query, 'until');
  if (since !== undefined && until !== undefined && since > until) {
    throw new InputError('invalid_argument', `since (${since} ms) is after until (${until} ms)`);
  }
  const limit = boundedParam(query, 'limit', 1, MAX_PAGE_SIZE) ?? DEFAULT_PAGE_SIZE;
  const after = decimalParam(query, 'cursor');
  return { equals, since, until, after, limit };
}

/** Splits sorted indexes into runs of consecutive ones, read with one query each. */
function runs(indexes: number[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const index of indexes) {
    const last = out[out.length - 1];
    if (last && last.end === index) last.end++;
    else out.push({ start: index, end: index + 1 });
  }
  return out;
}

async function readDecisions(ledger: Ledger, indexes: number[]) {
  const found = [];
  for (const { start, end } of runs(indexes)) {
    const entries = await ledger.entries(start, end);
    for (const [i, data] of entries.entries()) {
      const index = start + i;
      const decision = decisionToJSON(storedDecision(index, data));
      found.push({ index, leaf_hash: toHex(leafHash(data)), decision });
    }
  }
  return found;
}

/** Registers GET /v1/decisions on the app. */
export function registerSearch(app: Hono<AppEnv>, ledger: Ledger): void {
  app.get('/v1/decisions', async (c) => {
    const query = searchQuery(readQuery(c, PARAMETERS));
    const page = await ledger.search(query);
    const last = page.indexes[page.indexes.length - 1];
    const full = page.indexes.length === query.limit;
    return c.json({
      indexed_size: page.indexedSize,
      decisions: await readDecisions(ledger, page.indexes),
      next_cursor: full && last !== undefined ? String(last) : null,
    });
  });
}
