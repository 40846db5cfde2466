/**
 * Runs the HTTP server of a data folder: opens its ledger, listens, and on
 * close drains in-flight requests before closing the ledger. Signal
 * handling belongs to the command that calls startServer.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { isPostgresUrl, lockDataDir, openDataDir } from '../src/data-dir.js';
import { UsageError } from '../src/errors.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Ledger } from '../src/ledger.js';
import { createApp, DEFAULT_BODY_LIMIT } from './app.js';
import { drain, newHttpServer } from './http-server.js';
import { type Readers, startReaders } from './readers.js';
import type { Policy } from '../src/policy.js';
import { WitnessPublisher } from '../src/witness-publisher.js';
import { type LeaseTiming, startLeadership } from './leadership.js';

export interface ServerOptions {
  /** Data folder made by initDataDir. */
  dataDir: string;
  /**
   * PostgreSQL URL of the log (default: the SQLite file in dataDir). Several
   * servers may share one database: the one holding its sequencer lease
   * sequences, the others serve reads and refuse appends with not_sequencer.
   */
  store?: string;
  /** URL the other servers of a shared log name for appends (default: the listening URL). */
  advertiseUrl?: string;
  /** Lease timing of a shared log (defaults: 3000 ms lease, renewed every 1000 ms). */
  lease?: LeaseTiming;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on (default 8080). Port 0 picks a free port. */
  port?: number;
  /** Logger of the server and the sequencer (default: pino to stdout). */
  logger?: Logger;
  /** Maximum entries the sequencer commits in one batch (default 1000). */
  maxBatchEntries?: number;
  /** Maximum time an append waits for others to join its batch, in ms (default 0). */
  maxWaitMs?: number;
  /** Batches of a SQLite log that may wait for their commit at once (default 2). */
  maxPendingCommits?: number;
  /** Maximum request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  /** Witness policy: /checkpoint then serves only checkpoints with its quorum (default: none). */
  policy?: Policy;
  /**
   * Processes that serve reads of a SQLite log beside this one, on the same
   * socket and database file (default 0, at most MAX_READERS). Needs the
   * compiled server.
   */
  readers?: number;
}

export interface RunningServer {
  /** Base URL, such as http://127.0.0.1:8080. */
  url: string;
  ledger: Ledger;
  /** Stops accepting connections, lets in-flight requests finish, closes the ledger. */
  close(): Promise<void>;
}

/**
 * Maximum reader processes of one server. Each uses about 70 MiB resident
 * (measured with Node 20) and one thread, so readers past the core count
 * add memory and little or no throughput.
 */
export const MAX_READERS = 64;

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`port ${port} is not an integer from 0 to 65535`);
  }
}

function baseUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) =>
      reject(
        new UsageError(`cannot listen on ${host} port ${port}: ${err.message}`, { cause: err }),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Opens the ledger in `options.dataDir` (refusing a key file that group or
 * others can read) and serves it over HTTP.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  checkPort(port);
  const logger = options.logger ?? pino();
  useNodeCrypto();
  const shared = isPostgresUrl(options.store);
  const readerCount = options.readers ?? 0;
  if (!Number.isSafeInteger(readerCount) || readerCount < 0 || readerCount > MAX_READERS) {
    throw new UsageError(
      `readers must be a whole number from 0 to ${MAX_READERS}, got ${readerCount}. One reader per spare core is enough.`,
    );
  }
  if (readerCount > 0 && shared) {
    throw new UsageError(
      'reader processes serve SQLite logs; for a PostgreSQL log, start more declog serve processes on the same --store',
    );
  }
  if (readerCount > 0 && options.policy) {
    // TODO: send witnessed checkpoints to reader processes, so that they can serve them.
    throw new UsageError('reader processes cannot serve a log with a witness policy yet');
  }
  // One process per SQLite folder; PostgreSQL logs elect their sequencer instead.
  const unlock = shared ? () => undefined : lockDataDir(options.dataDir);
  let ledger: Awaited<ReturnType<typeof openDataDir>>;
  try {
    ledger = await openDataDir(
      options.dataDir,
      {
        logger,
        maxBatchEntries: options.maxBatchEntries,
        maxWaitMs: options.maxWaitMs,
        maxPendingCommits: options.maxPendingCommits,
        follow: shared,
      },
      options.store,
    );
  } catch (err) {
    unlock();
    throw err;
  }
  if (ledger.store instanceof SqliteStore) {
    for (const notice of ledger.store.searchNotices) logger.warn(notice);
  }
  let address: AddressInfo;
  let server: Server;
  let stopPublisher = () => Promise.resolve();
  let readers: Readers | undefined;
  try {
    const publisher = options.policy
      ? await WitnessPublisher.start(ledger, { policy: options.policy, logger })
      : undefined;
    stopPublisher = () => publisher?.close() ?? Promise.resolve();
    // With readers, the store shows each commit to them a moment before the sequencer
    // publishes it here, so this process polls the store too.
    const app = createApp(ledger, {
      logger,
      bodyLimit: options.bodyLimit,
      publisher,
      pollStore: readerCount > 0,
    });
    server = newHttpServer(app);
    address = await listen(server, host, port);
    if (readerCount > 0) {
      readers = await startReaders({
        server,
        ledger,
        count: readerCount,
        dataDir: options.dataDir,
        bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
        logger,
      });
    }
  } catch (err) {
    if (server! !== undefined && server.listening) await drain(server);
    await stopPublisher();
    await ledger.close();
    unlock();
    throw err;
  }
  const url = baseUrl(address);
  let leadership: Awaited<ReturnType<typeof startLeadership>> | undefined;
  try {
    const advertised = options.advertiseUrl ?? url;
    if (shared) {
      leadership = await startLeadership(ledger, options.store!, advertised, logger, options.lease);
    }
  } catch (err) {
    await drain(server);
    await stopPublisher();
    await ledger.close();
    unlock();
    throw err;
  }
  logger.info(
    { url, origin: ledger.origin, tree_size: ledger.latestCheckpoint()?.size },
    'listening',
  );

  let closing: Promise<void> | undefined;
  const close = async () => {
    // Readers first, because this process sequences the appends they pass on.
    await readers?.close();
    await drain(server);
    await stopPublisher();
    await leadership?.stop();
    await ledger.close();
    unlock();
    logger.info({ url }, 'stopped');
  };
  return { url, ledger, close: () => (closing ??= close()) };
}
