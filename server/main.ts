/**
 * Runs the HTTP server of a data folder: opens its ledger, listens, and on
 * close drains in-flight requests before closing the ledger. Signal
 * handling belongs to the command that calls startServer.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { isPostgresUrl, lockDataDir, openDataDir } from '../src/data-dir.js';
import { UsageError } from '../src/errors.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import type { Ledger } from '../src/ledger.js';
import { createApp } from './app.js';
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
}

export interface RunningServer {
  /** Base URL, such as http://127.0.0.1:8080. */
  url: string;
  ledger: Ledger;
  /** Stops accepting connections, lets in-flight requests finish, closes the ledger. */
  close(): Promise<void>;
}

/** How long close() waits for in-flight requests before dropping their connections. */
const DRAIN_TIMEOUT_MS = 10_000;
/** How often close() drops connections that have become idle while draining. */
const DRAIN_POLL_MS = 50;

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`port ${port} is not an integer from 0 to 65535`);
  }
}

function baseUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** How long an idle keep-alive connection stays open, in ms. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

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
 * Stops accepting connections and resolves once every connection is closed.
 * Keep-alive connections are closed as soon as they are idle. After the
 * timeout the remaining ones are dropped.
 */
function drain(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => server.closeIdleConnections(), DRAIN_POLL_MS);
    const timeout = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
    server.close(() => {
      clearInterval(poll);
      clearTimeout(timeout);
      resolve();
    });
    server.closeIdleConnections();
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
  let address: AddressInfo;
  let server: Server;
  let stopPublisher = () => Promise.resolve();
  try {
    const publisher = options.policy
      ? await WitnessPublisher.start(ledger, { policy: options.policy, logger })
      : undefined;
    stopPublisher = () => publisher?.close() ?? Promise.resolve();
    const app = createApp(ledger, { logger, bodyLimit: options.bodyLimit, publisher });
    server = createAdaptorServer({ fetch: app.fetch }) as Server;
    // Idle keep-alive connections outlive the clients' own idle timeouts (4 s for
    // Node's fetch), so a client never sends on a connection the server is closing.
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 5_000;
    address = await listen(server, host, port);
  } catch (err) {
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
    await drain(server);
    await stopPublisher();
    await leadership?.stop();
    await ledger.close();
    unlock();
    logger.info({ url }, 'stopped');
  };
  return { url, ledger, close: () => (closing ??= close()) };
}
