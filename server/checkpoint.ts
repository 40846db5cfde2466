/**
 * The log's state: GET /checkpoint (the signed note, c2sp.org/tlog-tiles),
 * GET /v1/log (identity and size) and GET /healthz.
 */
import type { Hono } from 'hono';
import { toHex } from '../src/encoding.js';
import { NotFoundError } from '../src/errors.js';
import type { Ledger } from '../src/ledger.js';
import type { CheckpointRecord } from '../src/store/store.js';
import type { AppEnv } from './env.js';
import type { WitnessPublisher } from '../src/witness-publisher.js';
import { servedCheckpoint } from './witnessing.js';
import { readQuery } from './query.js';

/** Returns the newest signed checkpoint. A ledger signs one of size 0 when it is created. */
export function latestCheckpoint(ledger: Ledger): CheckpointRecord {
  const checkpoint = ledger.latestCheckpoint();
  if (!checkpoint) throw new NotFoundError('checkpoint_not_found', 'the log has no checkpoint yet');
  return checkpoint;
}

/**
 * Registers GET /checkpoint, GET /v1/log and GET /healthz on the app. With a
 * publisher, /checkpoint serves the newest checkpoint with its witness quorum.
 */
export function registerCheckpoint(
  app: Hono<AppEnv>,
  ledger: Ledger,
  publisher?: WitnessPublisher,
): void {
  app.get('/checkpoint', (c) => {
    readQuery(c, []);
    const { note } = servedCheckpoint(ledger, publisher);
    // A checkpoint is replaced by every commit: caches must revalidate it.
    c.header('Cache-Control', 'no-cache');
    return c.body(note, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });

  app.get('/v1/log', async (c) => {
    readQuery(c, []);
    const { size, root } = latestCheckpoint(ledger);
    return c.json({
      origin: ledger.origin,
      verifier_key: ledger.verifierKey,
      tree_size: size,
      root_hash: toHex(root),
      indexed_size: await ledger.indexedSize(),
    });
  });

  app.get('/healthz', (c) => {
    readQuery(c, []);
    return c.json({ status: 'ok', tree_size: latestCheckpoint(ledger).size });
  });
}
