/**
 * The large log that the proof, search and memory figures share: built in
 * this process with Ledger.append, then grown further over HTTP through the
 * running server when the memory figure runs.
 */
import { join } from 'node:path';
import { initDataDir, type InitResult } from '../src/data-dir.js';
import { BENCH_ORIGIN } from './appends.js';
import { makeTempDir } from './cleanup.js';
import { type BuildResult, growLog, LOG_PREFIX } from './log-builder.js';
import { type LoadResult, runNodeLoad } from './load.js';
import { batchBody } from './workload.js';

/** Decisions per request when growing the log over HTTP. */
const GROW_BATCH = 1000;
/** Requests in flight when growing the log over HTTP. */
const GROW_CONCURRENCY = 8;

export interface BigLog {
  dataDir: string;
  init: InitResult;
  build: BuildResult;
}

/** Creates a ledger in a temporary folder and fills it with `size` entries. */
export async function buildBigLog(
  size: number,
  onProgress?: (size: number) => void,
): Promise<BigLog> {
  const dataDir = join(makeTempDir(), 'data');
  const init = await initDataDir(dataDir, BENCH_ORIGIN);
  const build = await growLog(dataDir, init.validator, size, onProgress);
  return { dataDir, init, build };
}

/**
 * Appends entries [from, to) of the built log's sequence through the running
 * `server`, in requests of GROW_BATCH decisions, and returns the load figures.
 * Growth sends an exact number of requests, the last one shorter, so it uses
 * the node:http client: wrk runs for a duration and has no request limit.
 */
export async function growOverHttp(
  server: { url: string; pid: number },
  log: BigLog,
  from: number,
  to: number,
): Promise<LoadResult> {
  const requests = Math.ceil((to - from) / GROW_BATCH);
  return runNodeLoad({
    url: server.url,
    serverPid: server.pid,
    concurrency: GROW_CONCURRENCY,
    seconds: Infinity,
    maxRequests: requests,
    request: (n) => {
      const first = from + n * GROW_BATCH;
      return {
        method: 'POST',
        path: '/v1/decisions',
        headers: { authorization: `Bearer ${log.init.token}`, 'content-type': 'application/json' },
        body: batchBody(LOG_PREFIX, first, Math.min(GROW_BATCH, to - first)),
      };
    },
  });
}
