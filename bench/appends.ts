/**
 * Sustained appends over HTTP: a server child on a fresh data folder, and a
 * closed loop of POST /v1/decisions from this process. Every response must
 * be 200, a random sample of receipts is verified against the log key
 * afterwards, and the signed tree size must equal the decisions sent.
 */
import { join } from 'node:path';
import { initDataDir } from '../src/data-dir.js';
import { signedTreeSize } from './http.js';
import { makeTempDir, removeTempDir } from './cleanup.js';
import { runLoad, type LoadResult, type RequestSpec } from './load.js';
import { ReceiptChecker } from './receipts.js';
import { startServerProcess } from './server-process.js';
import { Reservoir } from './stats.js';
import { batchBody, decisionJSON, expectedLeafHash } from './workload.js';

export const BENCH_ORIGIN = 'bench.declog.example/log';

/** Responses kept for verification after the run. */
const SAMPLE_SIZE = 100;

export interface AppendOptions {
  /** Decisions per request; 1 sends a single decision body. */
  batch: number;
  /** Requests in flight. */
  concurrency: number;
  seconds: number;
  warmUpSeconds: number;
  profileDir?: string;
}

export interface AppendFigure {
  load: LoadResult;
  decisionsPerSecond: number;
  /** Receipts verified: signature, leaf hash and inclusion proof. */
  verifiedReceipts: number;
  treeSize: number;
  serverRssBytes: number;
  serverCommand: string;
  /** The server's last error log lines, if any. */
  serverErrors: string[];
}

function appendRequest(token: string, prefix: string, batch: number, n: number): RequestSpec {
  const body =
    batch === 1 ? JSON.stringify(decisionJSON(prefix, n)) : batchBody(prefix, n * batch, batch);
  return {
    method: 'POST',
    path: '/v1/decisions',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  };
}

/** Checks the sampled responses: every receipt of each must verify for the decisions sent. */
function verifySamples(
  samples: { n: number; body: string }[],
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
  const server = await startServerProcess(dataDir, { profileDir: options.profileDir });
  try {
    const prefix = `append-${options.batch}`;
    const samples = new Reservoir<{ n: number; body: string }>(SAMPLE_SIZE);
    const load = await runLoad({
      url: server.url,
      concurrency: options.concurrency,
      seconds: options.seconds,
      warmUpSeconds: options.warmUpSeconds,
      serverPid: server.pid,
      request: (n) => appendRequest(init.token, prefix, options.batch, n),
      onResponse: (n, status, body) => status === 200 && samples.offer({ n, body }),
    });
    const serverRssBytes = server.rssBytes();
    const treeSize = await signedTreeSize(server.url, init.verifierKey);
    if (load.failed === 0 && treeSize !== load.sent * options.batch) {
      throw new Error(
        `the signed tree size is ${treeSize}, expected ${load.sent * options.batch}: one per decision sent`,
      );
    }
    const verified = verifySamples(
      samples.items,
      options,
      prefix,
      init.verifierKey,
      init.validator,
    );
    return {
      load,
      decisionsPerSecond: load.requestsPerSecond * options.batch,
      verifiedReceipts: verified,
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
