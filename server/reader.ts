/**
 * Entry point of a reader process (see readers.ts): opens the log read-only,
 * serves the connections it accepts on the listening socket that the
 * sequencing process sends it, and has that process sequence its appends.
 */
import type { Server } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { pino } from 'pino';
import { useNodeCrypto } from '../src/crypto-node.js';
import { openDataDir } from '../src/data-dir.js';
import { NotSequencerError } from '../src/leadership.js';
import type { AppendResult, Ledger } from '../src/ledger.js';
import { createApp } from './app.js';
import { drain, newHttpServer } from './http-server.js';
import {
  type Appender,
  type FromReader,
  type ReaderConfig,
  receivedError,
  type ToReader,
} from './readers.js';

const logger = pino({ base: undefined });

function send(message: FromReader): void {
  // A send fails once the sequencing process has gone; 'disconnect' then stops this reader.
  if (process.connected) process.send!(message, undefined, {}, () => undefined);
}

/** Appends waiting for the sequencing process, by message id. */
const waiting = new Map<
  number,
  { resolve: (r: AppendResult) => void; reject: (e: unknown) => void }
>();
let nextId = 0;

/** Sequences appends in the sequencing process. */
const appender: Appender = {
  append(validator, decisions, encoded) {
    if (!process.connected) return Promise.reject(new NotSequencerError(undefined));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      send({ type: 'append', id, validator, decisions, encoded });
    });
  },
};

let running: { server: Server; ledger: Ledger } | undefined;
let stopping: Promise<void> | undefined;

/** Opens the log and prepares the server; connections come with the listening socket later. */
async function open(config: ReaderConfig): Promise<void> {
  const log = logger.child({ reader: config.reader });
  useNodeCrypto();
  const ledger = await openDataDir(config.dataDir, { readOnly: true, logger: log });
  const app = createApp(ledger, { logger: log, bodyLimit: config.bodyLimit, appender });
  running = { server: newHttpServer(app), ledger };
  log.info({ tree_size: ledger.latestCheckpoint()?.size }, 'reader serving');
}

/**
 * Serves the connections that the shared listening socket accepts. The HTTP
 * server listens on that socket itself, because Node tracks a server's
 * connections only once it listens. Without that tracking, it enforces no
 * header or request timeout, and drain cannot close idle connections.
 */
function listen(listener: NetServer): void {
  running!.server.listen(listener);
}

function stop(): Promise<void> {
  stopping ??= (async () => {
    if (running) {
      if (running.server.listening) await drain(running.server);
      await running.ledger.close();
    }
    process.exit(0);
  })();
  return stopping;
}

process.on('message', (message: ToReader, handle?: NetServer) => {
  if (message.type === 'start') {
    open(message.config).then(
      () => send({ type: 'opened' }),
      (err: unknown) => {
        send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  } else if (message.type === 'listen' && handle && running && !stopping) {
    listen(handle);
    send({ type: 'ready' });
  } else if (message.type === 'appended' || message.type === 'append-failed') {
    const waiter = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.type === 'appended') waiter?.resolve(message.result);
    else waiter?.reject(receivedError(message.error));
  } else if (message.type === 'stop') {
    void stop();
  }
});

// Without the sequencing process, appends cannot be sequenced, so the reader stops.
process.on('disconnect', () => {
  for (const waiter of waiting.values()) waiter.reject(new NotSequencerError(undefined));
  waiting.clear();
  void stop();
});
// A Ctrl-C reaches the whole process group; the sequencing process stops the readers in order.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void stop());
