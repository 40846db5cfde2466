/**
 * The ledger's side of witnessing over HTTP: GET /checkpoint/unwitnessed
 * (the newest log-signed checkpoint, still waiting for its quorum), GET
 * /metrics (witness counters in the Prometheus text format), and the
 * helpers by which /checkpoint, the proofs and `?wait=witnessed` appends
 * present the witnessed checkpoint when the ledger has a policy.
 */
import type { Hono } from 'hono';
import { InputError, NotFoundError } from '../src/errors.js';
import type { AppendResult, Ledger } from '../src/ledger.js';
import type { CheckpointRecord } from '../src/store/store.js';
import type { WitnessPublisher } from '../src/witness-publisher.js';
import { latestCheckpoint } from './checkpoint.js';
import type { AppEnv } from './env.js';
import { readQuery } from './query.js';

/** Maximum time an append with ?wait=witnessed waits for its quorum, in ms. */
export const WITNESSED_WAIT_MS = 30_000;

/** The checkpoint served at /checkpoint: the witnessed one under a policy, else the latest. */
export function servedCheckpoint(ledger: Ledger, publisher?: WitnessPublisher): CheckpointRecord {
  if (!publisher) return latestCheckpoint(ledger);
  const published = publisher.published();
  if (!published) {
    throw new NotFoundError(
      'checkpoint_not_found',
      'no checkpoint has its witness quorum yet; the newest log-signed one is at /checkpoint/unwitnessed',
    );
  }
  return { ...published, createdMs: 0 };
}

/** The default tree size of proofs: the witnessed one under a policy, if any. */
export function publishedSize(publisher?: WitnessPublisher): number | undefined {
  return publisher?.published()?.size;
}

// TODO: only the newest witnessed note is kept, so proofs for an older tree_size carry the
// log's signature alone; keep each published note if clients need cosigned older sizes.

/** The note of `record`, with the cosignatures when it is the published witnessed one. */
export function presentNote(record: CheckpointRecord, publisher?: WitnessPublisher): string {
  const published = publisher?.published();
  return published && published.size === record.size ? published.note : record.note;
}

/** Reads `?wait=`: true for 'witnessed', which needs a ledger with a witness policy. */
export function waitWitnessed(value: string | undefined, publisher?: WitnessPublisher): boolean {
  if (value === undefined) return false;
  if (value !== 'witnessed') {
    throw new InputError(
      'invalid_argument',
      `query parameter wait is ${JSON.stringify(value.slice(0, 40))}: the only value is witnessed`,
    );
  }
  if (!publisher) {
    throw new InputError(
      'invalid_argument',
      'wait=witnessed needs a ledger started with a witness policy (declog serve --policy)',
    );
  }
  return true;
}

/**
 * Signals the commit to the publisher and, when `wait` is set, waits for a
 * witnessed checkpoint covering `result` and proves its entries against it.
 */
export async function afterAppend(
  ledger: Ledger,
  result: AppendResult,
  publisher: WitnessPublisher | undefined,
  wait: boolean,
): Promise<AppendResult> {
  publisher?.notify();
  if (!wait || !publisher) return result;
  const witnessed = await publisher.waitFor(result.checkpoint.size, WITNESSED_WAIT_MS);
  const entries = await Promise.all(
    result.entries.map(async (r) => {
      const { proof } = await ledger.inclusionProof(r.index, witnessed.size);
      return { ...r, inclusionProof: proof };
    }),
  );
  return { checkpoint: { ...witnessed, createdMs: result.checkpoint.createdMs }, entries };
}

/** Registers GET /checkpoint/unwitnessed and GET /metrics on the app. */
export function registerWitnessing(
  app: Hono<AppEnv>,
  ledger: Ledger,
  publisher?: WitnessPublisher,
): void {
  app.get('/checkpoint/unwitnessed', (c) => {
    readQuery(c, []);
    c.header('Cache-Control', 'no-cache');
    const { note } = latestCheckpoint(ledger);
    return c.body(note, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });
  app.get('/metrics', (c) => {
    readQuery(c, []);
    const text = publisher?.metrics() ?? '';
    return c.body(text, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
}
