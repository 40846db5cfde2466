/**
 * Inclusion proofs over HTTP on a large log: GET /v1/proof/inclusion for
 * random indexes at the latest size, from a closed loop of clients. A random
 * sample of the proofs is verified afterwards against the log key and the
 * leaf hash of the decision the log was built with.
 */
import { LOG_PREFIX } from './log-builder.js';
import { runLoad, type LoadResult } from './load.js';
import { ReceiptChecker } from './receipts.js';
import { Reservoir } from './stats.js';
import { expectedLeafHash } from './workload.js';

const SAMPLE_SIZE = 200;

export interface ProofOptions {
  url: string;
  /** Process ID of the server, for its CPU use. */
  serverPid: number;
  /** Tree size of the log; indexes are drawn below it. */
  size: number;
  concurrency: number;
  seconds: number;
  warmUpSeconds: number;
  verifierKey: string;
  /** Validator that appended the log's decisions. */
  validator: string;
  /**
   * Entries below this index hold decision `index` of LOG_PREFIX, as
   * growLog appends them, so their leaf hashes are checked too. Entries
   * appended over HTTP by concurrent requests are in arrival order, so
   * only their signature and inclusion proof are checked.
   */
  builtSize: number;
}

export interface ProofFigure {
  load: LoadResult;
  verifiedProofs: number;
}

/** Returns a well-mixed 32-bit hash of n (the splitmix32 finalizer). */
function mix32(n: number): number {
  let z = (n + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Returns the index that request `n` asks for: reproducible, spread evenly below `size`. */
export function randomIndex(n: number, size: number): number {
  return Math.floor((mix32(n) / 2 ** 32) * size);
}

/** Runs the proof load and verifies a sample of the responses. */
export async function benchProofs(options: ProofOptions): Promise<ProofFigure> {
  const samples = new Reservoir<{ n: number; body: string }>(SAMPLE_SIZE);
  const load = await runLoad({
    url: options.url,
    concurrency: options.concurrency,
    seconds: options.seconds,
    warmUpSeconds: options.warmUpSeconds,
    serverPid: options.serverPid,
    request: (n) => ({
      method: 'GET',
      path: `/v1/proof/inclusion?index=${randomIndex(n, options.size)}`,
    }),
    onResponse: (n, status, body) => status === 200 && samples.offer({ n, body }),
  });
  const checker = new ReceiptChecker(options.verifierKey);
  for (const { n, body } of samples.items) {
    const index = randomIndex(n, options.size);
    const built = index < options.builtSize;
    const expected = built ? expectedLeafHash(LOG_PREFIX, index, options.validator) : undefined;
    checker.checkProof(body, index, expected);
  }
  return { load, verifiedProofs: checker.checked };
}
