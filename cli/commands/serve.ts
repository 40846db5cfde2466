/** declog serve: runs the HTTP server of a data folder until SIGINT or SIGTERM. */
import { pino } from 'pino';
import { checkStoreUrl, isInitialized } from '../../src/data-dir.js';
import { startServer } from '../../server/main.js';
import { note, storeUrl, usage } from '../options.js';
import { createLedger, printCreated } from './init.js';
import { readPolicy } from './policy.js';

export interface ServeOptions {
  data: string;
  port: number;
  host: string;
  init?: boolean;
  origin: string;
  maxBatch?: number;
  maxWaitMs?: number;
  maxPendingCommits?: number;
  /** Processes that serve reads of a SQLite log beside the sequencing one. */
  readers?: number;
  /** c2sp.org/tlog-policy file of the witnesses whose quorum /checkpoint waits for. */
  policy?: string;
  /** PostgreSQL URL of a log that several servers share (default: DECLOG_STORE). */
  store?: string;
  /** URL the other servers name for appends while this one sequences. */
  advertiseUrl?: string;
}

/** Resolves with the first SIGINT or SIGTERM received. */
export function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * declog serve [--data DIR] [--port N] [--host H] [--init] [--origin NAME]
 * [--max-batch N] [--max-wait-ms N] [--max-pending-commits N] [--readers N] [--store URL]
 * [--advertise-url URL].
 * Logs JSON lines to stdout. The token
 * of a ledger made by --init goes to stderr, once.
 */
export async function serve(opts: ServeOptions): Promise<void> {
  const store = usage(() => checkStoreUrl(storeUrl(opts.store)));
  if (opts.init && !isInitialized(opts.data)) {
    printCreated(await createLedger(opts.data, opts.origin, store), opts.data, note);
  }
  const signal = nextSignal();
  const logger = pino({ base: undefined });
  const server = await startServer({
    dataDir: opts.data,
    policy: opts.policy === undefined ? undefined : readPolicy(opts.policy),
    store,
    advertiseUrl: opts.advertiseUrl,
    host: opts.host,
    port: opts.port,
    logger,
    maxBatchEntries: opts.maxBatch,
    maxWaitMs: opts.maxWaitMs,
    maxPendingCommits: opts.maxPendingCommits,
    readers: opts.readers,
  });
  logger.info({ signal: await signal }, 'shutting down');
  await server.close();
}
