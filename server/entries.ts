/** GET /v1/entries/:index: one log entry, decoded and as its exact CBOR bytes. */
import type { Hono } from 'hono';
import { type Decision, decisionToJSON, decodeDecision } from '../src/decision.js';
import { parseDecimal, toBase64, toHex } from '../src/encoding.js';
import { StorageError } from '../src/errors.js';
import type { Ledger } from '../src/ledger.js';
import type { AppEnv } from './env.js';
import { readQuery } from './query.js';

/**
 * Decodes a stored entry. The sequencer only stores canonical entries, so a
 * failure here means the store is damaged, not that the client erred.
 */
export function storedDecision(index: number, data: Uint8Array): Decision {
  try {
    return decodeDecision(data);
  } catch (cause) {
    throw new StorageError('corrupt_store', `stored entry ${index} does not decode`, { cause });
  }
}

/** Registers GET /v1/entries/:index on the app. */
export function registerEntries(app: Hono<AppEnv>, ledger: Ledger): void {
  app.get('/v1/entries/:index', async (c) => {
    readQuery(c, []);
    const index = parseDecimal(c.req.param('index'), 'entry index');
    const entry = await ledger.entry(index);
    return c.json({
      index,
      leaf_hash: toHex(entry.leafHash),
      decision: decisionToJSON(storedDecision(index, entry.data)),
      entry: toBase64(entry.data),
    });
  });
}
