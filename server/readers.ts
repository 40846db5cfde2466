/**
 * Reader processes of a SQLite log: `declog serve --readers N` forks N
 * processes that accept connections on the server's own listening socket
 * and answer reads (checkpoints, proofs, entries, search, tiles) from the
 * same database file, opened read-only. The sequencing process keeps the
 * one write path: a reader passes each append to it over the IPC channel,
 * whole, and relays its response.
 *
 * A reader reads the newest checkpoint from the file before each request
 * that uses it (SQLite's data_version tells when another connection has
 * committed), so it never shows an older checkpoint than the one in a
 * response to an append that was sent before the request.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { UsageError } from '../src/errors.js';
import type { AppEnv } from './env.js';

/** The compiled entry point of a reader process. */
const READER_SCRIPT = fileURLToPath(new URL('./reader.js', import.meta.url));

/** How long a reader may take to open the log and say it is ready, in ms. */
const START_TIMEOUT_MS = 30_000;
/** How long a stopping reader may drain its connections before it is killed, in ms. */
const STOP_TIMEOUT_MS = 15_000;
/** Delay before a reader that exited unexpectedly is started again, in ms. */
const RESTART_DELAY_MS = 1_000;

/** Request headers a reader passes on with an append; the others concern its own connection. */
export const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept'];

/** An HTTP request as a reader passes it to the sequencing process. */
export interface ForwardedRequest {
  method: string;
  /** Path and query string. */
  path: string;
  headers: [string, string][];
  body: Uint8Array;
}

/** The sequencing process's response to a ForwardedRequest. */
export interface ForwardedResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Passes a request to the sequencing process; undefined when that process has gone. */
export type Forwarder = (request: ForwardedRequest) => Promise<ForwardedResponse | undefined>;

/** What a reader needs to serve the log. */
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
  | { type: 'response'; id: number; response: ForwardedResponse }
  | { type: 'stop' };

/** Messages from a reader to the sequencing process. */
export type FromReader =
  | { type: 'opened' }
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'forward'; id: number; request: ForwardedRequest };

export interface ReaderOptions {
  /** The listening server whose socket the readers share. */
  server: Server;
  /** The sequencing process's app, which handles forwarded appends. */
  app: Hono<AppEnv>;
  count: number;
  dataDir: string;
  bodyLimit: number;
  logger: Logger;
}

export interface Readers {
  /** Stops every reader once its requests in flight have their responses. */
  close(): Promise<void>;
}

/** Runs one forwarded request through the app, as if it had arrived on a connection of its own. */
async function respond(app: Hono<AppEnv>, request: ForwardedRequest): Promise<ForwardedResponse> {
  const res = await app.fetch(
    new Request(`http://reader${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    }),
  );
  return {
    status: res.status,
    headers: [...res.headers],
    body: new Uint8Array(await res.arrayBuffer()),
  };
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

  const spawn = (reader: number): Promise<void> => {
    const child = fork(READER_SCRIPT, [], { serialization: 'advanced', stdio: 'inherit' });
    children.set(reader, child);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`reader ${reader} did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      child.on('message', (message: FromReader) => {
        if (message.type === 'opened') {
          // The socket goes to a reader only once it can serve: from then on it accepts
          // connections, and one accepted before its handler is in place would hang.
          child.send({ type: 'listen' } satisfies ToReader, options.server);
        } else if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`reader ${reader} failed to start: ${message.message}`));
        } else if (message.type === 'forward') {
          void respond(options.app, message.request).then(
            (response) => sendTo(child, { type: 'response', id: message.id, response }),
            (err: unknown) => {
              // The app turns every error into a response, so this is a bug in the app.
              logger.error({ err, reader }, 'forwarded append failed');
              const body = new TextEncoder().encode(
                '{"error":{"code":"internal","message":"internal server error"}}',
              );
              const headers: [string, string][] = [['content-type', 'application/json']];
              sendTo(child, {
                type: 'response',
                id: message.id,
                response: { status: 500, headers, body },
              });
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
      logger.error({ reader, code, signal }, 'reader process exited; starting it again');
      setTimeout(() => {
        if (closing) return;
        spawn(reader).catch((err: unknown) =>
          logger.error({ err, reader }, 'reader restart failed'),
        );
      }, RESTART_DELAY_MS).unref();
    });
    const config: ReaderConfig = {
      dataDir: options.dataDir,
      bodyLimit: options.bodyLimit,
      reader,
    };
    child.send({ type: 'start', config } satisfies ToReader);
    return ready;
  };

  const stopAll = async () => {
    closing = true;
    await Promise.all([...children.values()].map(stop));
  };
  try {
    await Promise.all(Array.from({ length: options.count }, (_, i) => spawn(i + 1)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { close: stopAll };
}

function sendTo(child: ChildProcess, message: ToReader): void {
  // A reader that has exited has closed its connections, so no response can reach them.
  if (child.connected) child.send(message);
}

/** Asks a reader to drain and exit, and kills it if it has not within the timeout. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    sendTo(child, { type: 'stop' });
  });
}
