/**
 * Inclusion proofs over HTTP on a large log: GET /v1/proof/inclusion for
 * random indexes at the latest size, from a closed loop of clients. A sample
 * of the proofs is verified afterwards against the log key and the leaf hash
 * of the decision that each entry must hold.
 */
import { LOG_PREFIX } from './log-builder.js';
import { type LoadClient, type LoadResult, runSampledLoad } from './load.js';
import { ReceiptChecker } from './receipts.js';
import { randomIndex } from './request-template.js';
import { expectedLeafHash } from './workload.js';

const SAMPLE_SIZE = 200;

export interface ProofOptions {
  url: string;
  /** Process ID of the server, for its CPU use. */
  serverPid: number;
  /** Tree size of the log, below which indexes are drawn. */
  size: number;
  concurrency: number;
  seconds: number;
  warmUpSeconds: number;
  verifierKey: string;
  /** Validator that appended the log's decisions. */
  validator: string;
  /**
   * Entries below this index contain decision `index` of LOG_PREFIX, as growLog
   * appends them. Entries appended over HTTP by concurrent requests are in
   * arrival order, so the decision each contains is read from GET /v1/entries.
   */
  builtSize: number;
  /** The load generator (default: wrk when it is on PATH). */
  client?: LoadClient;
}

export interface ProofFigure {
  load: LoadResult;
  verifiedProofs: number;
}

/**
 * Returns the leaf hash that entry `index` must have: that of decision
 * `index` for a built entry, else that of the decision named by the ID the
 * server returns for the entry.
 */
async function expectedLeafHashOf(options: ProofOptions, index: number): Promise<Uint8Array> {
  if (index < options.builtSize) return expectedLeafHash(LOG_PREFIX, index, options.validator);
  const res = await fetch(`${options.url}/v1/entries/${index}`);
  if (res.status !== 200) throw new Error(`GET /v1/entries/${index} returned ${res.status}`);
  const { decision } = (await res.json()) as { decision: { id: string } };
  const n = Number(decision.id.slice(LOG_PREFIX.length + 1));
  if (!decision.id.startsWith(`${LOG_PREFIX}-`) || !Number.isSafeInteger(n)) {
    throw new Error(`entry ${index} has decision ID ${decision.id}, not one of ${LOG_PREFIX}-N`);
  }
  return expectedLeafHash(LOG_PREFIX, n, options.validator);
}

/** Runs the proof load and verifies a sample of the responses. */
export async function benchProofs(options: ProofOptions): Promise<ProofFigure> {
  const { load, samples } = await runSampledLoad(
    {
      url: options.url,
      concurrency: options.concurrency,
      seconds: options.seconds,
      warmUpSeconds: options.warmUpSeconds,
      serverPid: options.serverPid,
      client: options.client,
      request: {
        method: 'GET',
        path: ['/v1/proof/inclusion?index=', { integer: { of: 'random', below: options.size } }],
      },
    },
    SAMPLE_SIZE,
  );
  const checker = new ReceiptChecker(options.verifierKey);
  for (const { n, body } of samples) {
    const index = randomIndex(n, options.size);
    checker.checkProof(body, index, await expectedLeafHashOf(options, index));
  }
  return { load, verifiedProofs: checker.checked };
}
