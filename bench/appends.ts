/**
 * Sustained appends over HTTP: a server child on a fresh data folder, and a
 * closed loop of POST /v1/decisions from wrk or this process. Every response
 * must be 200, and afterwards a sample of receipts is verified against the
 * log key and the signed tree size must equal the decisions sent.
 */
import { join } from 'node:path';
import { initDataDir } from '../src/data-dir.js';
import { waitForTreeSize } from './http.js';
import { makeTempDir, removeTempDir } from './cleanup.js';
import { type LoadClient, type LoadResult, runSampledLoad, type Sample } from './load.js';
import { ReceiptChecker } from './receipts.js';
import type { RequestTemplate } from './request-template.js';
import { startServerProcess } from './server-process.js';
import { batchParts, decisionParts, expectedLeafHash } from './workload.js';

export const BENCH_ORIGIN = 'bench.declog.example/log';

/** Responses verified after the run: sampled from the run, or sent after it with wrk. */
const SAMPLE_SIZE = 100;

export interface AppendOptions {
  /** Decisions per request; 1 sends a single decision body. */
  batch: number;
  /** Requests in flight. */
  concurrency: number;
  seconds: number;
  warmUpSeconds: number;
  profileDir?: string;
  /** Reader processes beside the server (default 0). */
  readers?: number;
  /** The load generator (default: wrk when it is on PATH). */
  client?: LoadClient;
}

export interface AppendFigure {
  load: LoadResult;
  decisionsPerSecond: number;
  /** Receipts verified: signature, leaf hash and inclusion proof. */
  verifiedReceipts: number;
  /** Append requests sent after the measured run to get receipts to verify (wrk only). */
  checkRequests: number;
  treeSize: number;
  serverRssBytes: number;
  serverCommand: string;
  /** The server's last error log lines, if any. */
  serverErrors: string[];
}

/** Request n appends decisions n (one per request) or n * batch to n * batch + batch - 1. */
function appendTemplate(token: string, prefix: string, batch: number): RequestTemplate {
  return {
    method: 'POST',
    path: ['/v1/decisions'],
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: batch === 1 ? decisionParts(prefix) : batchParts(prefix, batch),
  };
}

/** Checks the sampled responses: every receipt of each must verify for the decisions sent. */
function verifySamples(
  samples: Sample[],
  options: AppendOptions,
  prefix: string,
  verifierKey: string,
  validator: string,
): number {
  const checker = new ReceiptChecker(verifierKey);
  for (const { n, body } of samples) {
    const first = options.batch === 1 ? n : n * options.batch;
    const expected = Array.from({ length: options.batch }, (_, i) =>
      expectedLeafHash(prefix, first + i, validator),
    );
    checker.checkAppend(body, expected);
  }
  return checker.checked;
}

/** Runs one sustained append benchmark on a new ledger and deletes it afterwards. */
export async function benchAppends(options: AppendOptions): Promise<AppendFigure> {
  const dir = makeTempDir();
  const dataDir = join(dir, 'data');
  const init = await initDataDir(dataDir, BENCH_ORIGIN);
  const server = await startServerProcess(dataDir, {
    profileDir: options.profileDir,
    readers: options.readers,
  });
  try {
    const prefix = `append-${options.batch}`;
    const { load, samples, checkRequests } = await runSampledLoad(
      {
        url: server.url,
        concurrency: options.concurrency,
        seconds: options.seconds,
        warmUpSeconds: options.warmUpSeconds,
        serverPid: server.pid,
        client: options.client,
        request: appendTemplate(init.token, prefix, options.batch),
      },
      SAMPLE_SIZE,
    );
    const serverRssBytes = server.rssBytes();
    // wrk stops with requests in flight, which the server may still be appending.
    const expected = (load.sent + checkRequests) * options.batch;
    const treeSize = await waitForTreeSize(server.url, init.verifierKey, expected);
    if (load.failed === 0 && treeSize !== expected) {
      throw new Error(
        `the signed tree size is ${treeSize}, expected ${expected}: one per decision sent`,
      );
    }
    const verified = verifySamples(samples, options, prefix, init.verifierKey, init.validator);
    return {
      load,
      decisionsPerSecond: load.requestsPerSecond * options.batch,
      verifiedReceipts: verified,
      checkRequests,
      treeSize,
      serverRssBytes,
      serverCommand: server.command,
      serverErrors: server.errorLines(),
    };
  } finally {
    await server.stop();
    removeTempDir(dir);
  }
}
