/**
 * Reader processes of a SQLite log: `declog serve --readers N` forks N
 * processes that accept connections on the server's own listening socket
 * and serve reads (checkpoints, proofs, entries, search, tiles) from the
 * same database file, opened read-only. A reader checks, parses and
 * encodes appends itself and passes only their sequencing to the
 * sequencing process, over the IPC channel.
 *
 * Every process polls the file for a newer checkpoint as each request
 * arrives, using SQLite's data_version, which changes when another
 * connection commits. So no process shows an older checkpoint than one that
 * a client received from any process before it sent the request.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Decision } from '../src/decision.js';
import {
  AuthError,
  InputError,
  NetworkError,
  NotFoundError,
  StorageError,
  UsageError,
  VerificationError,
} from '../src/errors.js';
import { NotSequencerError } from '../src/leadership.js';
import type { AppendResult, Ledger } from '../src/ledger.js';

/** The compiled entry point of a reader process. */
const READER_SCRIPT = fileURLToPath(new URL('./reader.js', import.meta.url));

/** How long a reader may take to open the log and report that it is ready, in ms. */
const START_TIMEOUT_MS = 30_000;
/** How long a stopping reader may drain its connections before it is killed, in ms. */
const STOP_TIMEOUT_MS = 15_000;
/** Delay before a reader that exited unexpectedly is started again, in ms. */
const RESTART_DELAY_MS = 1_000;
/** Maximum delay before a restart, in ms. The delay doubles with each early exit in a row. */
const MAX_RESTART_DELAY_MS = 60_000;
/** Time a reader must serve before its exit no longer counts as an early exit, in ms. */
const STABLE_RUN_MS = 60_000;

/** An error of an append, as it crosses the IPC channel. */
export interface SentError {
  /** The DeclogError class, or 'internal' for any other error. */
  kind: 'input' | 'auth' | 'notFound' | 'storage' | 'verification' | 'network' | 'internal';
  code: string;
  message: string;
}

/** Sequences one request's decisions, as Ledger.append does. */
export interface Appender {
  append(validator: string, decisions: Decision[], encoded: Uint8Array[]): Promise<AppendResult>;
}

/** The settings a reader needs to serve the log. */
export interface ReaderConfig {
  dataDir: string;
  bodyLimit: number;
  /** The reader's number, 1 to N, named in its log lines. */
  reader: number;
}

/** Messages from the sequencing process to a reader. */
export type ToReader =
  | { type: 'start'; config: ReaderConfig }
  | { type: 'listen' }
  | { type: 'appended'; id: number; result: AppendResult }
  | { type: 'append-failed'; id: number; error: SentError }
  | { type: 'stop' };

/** Messages from a reader to the sequencing process. */
export type FromReader =
  | { type: 'opened' }
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'append'; id: number; validator: string; decisions: Decision[]; encoded: Uint8Array[] };

export interface ReaderOptions {
  /** The listening server whose socket the readers share. */
  server: Server;
  /** The sequencing process's ledger, which sequences the readers' appends. */
  ledger: Ledger;
  count: number;
  dataDir: string;
  bodyLimit: number;
  logger: Logger;
}

export interface Readers {
  /** Stops every reader once its requests in flight have their responses. */
  close(): Promise<void>;
}

/** Returns an error of an append in the form that crosses the IPC channel. */
function sendable(err: unknown): SentError {
  const kinds = [
    [InputError, 'input'],
    [AuthError, 'auth'],
    [NotFoundError, 'notFound'],
    [StorageError, 'storage'],
    [VerificationError, 'verification'],
    [NetworkError, 'network'],
  ] as const;
  for (const [type, kind] of kinds) {
    if (err instanceof type) return { kind, code: err.code, message: err.message };
  }
  return { kind: 'internal', code: 'internal', message: 'internal error' };
}

/** Returns the error that a SentError stands for, of the same class, code and message. */
export function receivedError(sent: SentError): Error {
  const code = sent.code as never;
  switch (sent.kind) {
    case 'input':
      return new InputError(code, sent.message);
    case 'auth':
      return new AuthError(code, sent.message);
    case 'notFound':
      return new NotFoundError(code, sent.message);
    case 'storage':
      return sent.code === 'not_sequencer'
        ? new NotSequencerError(undefined)
        : new StorageError(code, sent.message);
    case 'verification':
      return new VerificationError(code, sent.message);
    case 'network':
      return new NetworkError(code, sent.message);
    default:
      return new Error(`the sequencing process failed to append: ${sent.message}`);
  }
}

/** Forks the reader processes and resolves once every one serves the log. */
export async function startReaders(options: ReaderOptions): Promise<Readers> {
  if (!existsSync(READER_SCRIPT)) {
    throw new UsageError(
      `reader processes need the compiled server (${READER_SCRIPT} is missing): run npm run build`,
    );
  }
  const { logger } = options;
  const children = new Map<number, ChildProcess>();
  let closing = false;

  /** Starts reader number `reader`, whose previous `failures` processes exited early in a row. */
  const spawn = (reader: number, failures = 0): Promise<void> => {
    const child = fork(READER_SCRIPT, [], { serialization: 'advanced', stdio: 'inherit' });
    children.set(reader, child);
    // Without a listener, an 'error' event (such as a failed kill) would stop this process.
    child.on('error', (err) => logger.error({ err, reader }, 'reader process error'));
    let readyMs: number | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`reader ${reader} did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      child.on('message', (message: FromReader) => {
        if (message.type === 'opened') {
          // The socket goes to a reader only once it can serve: from then on it accepts
          // connections, and one accepted before its handler is in place would hang.
          sendTo(child, { type: 'listen' }, logger, options.server);
        } else if (message.type === 'ready') {
          clearTimeout(timer);
          readyMs = Date.now();
          resolve();
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`reader ${reader} failed to start: ${message.message}`));
        } else if (message.type === 'append') {
          const { id, validator, decisions, encoded } = message;
          options.ledger.append(validator, decisions, encoded).then(
            (result) => sendTo(child, { type: 'appended', id, result }, logger),
            (err: unknown) => {
              const error = sendable(err);
              if (error.kind === 'internal') {
                logger.error({ err, reader }, 'append from a reader failed');
              }
              sendTo(child, { type: 'append-failed', id, error }, logger);
            },
          );
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`reader ${reader} exited (code ${code}, signal ${signal}) while starting`),
        );
      });
    });
    child.once('exit', (code, signal) => {
      if (children.get(reader) === child) children.delete(reader);
      if (closing) return;
      // A reader that cannot start, or crashes soon after, is retried ever more slowly.
      const stable = readyMs !== undefined && Date.now() - readyMs >= STABLE_RUN_MS;
      const failed = stable ? 0 : failures + 1;
      const delay = Math.min(RESTART_DELAY_MS * 2 ** Math.max(failed - 1, 0), MAX_RESTART_DELAY_MS);
      logger.error(
        { reader, code, signal, restart_in_ms: delay },
        'reader process exited; starting it again',
      );
      setTimeout(() => {
        if (closing) return;
        spawn(reader, failed).catch((err: unknown) =>
          logger.error({ err, reader }, 'reader restart failed'),
        );
      }, delay).unref();
    });
    const config: ReaderConfig = {
      dataDir: options.dataDir,
      bodyLimit: options.bodyLimit,
      reader,
    };
    sendTo(child, { type: 'start', config }, logger);
    return ready;
  };

  const stopAll = async () => {
    closing = true;
    await Promise.all([...children.values()].map((child) => stop(child, logger)));
  };
  try {
    await Promise.all(Array.from({ length: options.count }, (_, i) => spawn(i + 1)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { close: stopAll };
}

/**
 * Sends a message to a reader. One that exited a moment ago can still look
 * connected, and the write then fails: the callback takes that error, which
 * Node would otherwise emit as an 'error' event that stops this process.
 */
export function sendTo(
  child: ChildProcess,
  message: ToReader,
  logger: Logger,
  handle?: Server,
): void {
  // A reader that has exited has closed its connections, so no response can reach them.
  if (!child.connected) return;
  child.send(message, handle, {}, (err) => {
    if (err) {
      logger.warn({ err, pid: child.pid, type: message.type }, 'sending to a reader failed');
    }
  });
}

/** Asks a reader to drain and exit, and kills it if it has not within the timeout. */
function stop(child: ChildProcess, logger: Logger): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    sendTo(child, { type: 'stop' }, logger);
  });
}
