/**
 * The HTTP service of a witness (c2sp.org/tlog-witness): POST
 * /add-checkpoint, answered with cosignature lines, or with the status the
 * spec assigns to each failure and a one-line text message:
 *
 *   400 malformed body or old size above the checkpoint size
 *   403 no valid signature by a log key the witness trusts
 *   404 unknown log origin
 *   409 old size is not the witness's size, or same size with another root;
 *       the body is the witness's size (Content-Type text/x.tlog.size)
 *   422 consistency proof that does not verify
 */
import { createAdaptorServer } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { DeclogError, InputError, UsageError } from '../src/errors.js';
import { fromUtf8 } from '../src/encoding.js';
import { MAX_REQUEST_BYTES, TLOG_SIZE_MEDIA_TYPE, TreeSizeConflictError } from '../src/witness.js';
import type { Witness } from '../src/witness-state.js';

/** HTTP status of each error code a witness raises. */
const STATUS: Record<string, 400 | 403 | 404 | 409 | 413 | 422> = {
  invalid_argument: 400,
  body_too_large: 413,
  bad_signature: 403,
  not_found: 404,
  tree_size_conflict: 409,
  invalid_proof: 422,
};

function text(c: Context, status: number, body: string, type = 'text/plain; charset=utf-8') {
  return c.body(body, status as 200, { 'Content-Type': type });
}

/** Sends an error response: the 409 carries the size, the others a one-line message. */
function answerError(c: Context, err: unknown, logger: Logger): Response {
  if (err instanceof TreeSizeConflictError) {
    logger.debug({ code: err.code, tree_size: err.size }, 'add-checkpoint conflict');
    return text(c, 409, `${err.size}\n`, TLOG_SIZE_MEDIA_TYPE);
  }
  const status = err instanceof DeclogError ? STATUS[err.code] : undefined;
  if (status === undefined) {
    logger.error({ err }, 'add-checkpoint failed');
    return text(c, 500, 'internal error\n');
  }
  const code = (err as DeclogError).code;
  const level = status === 403 || status === 422 ? 'warn' : 'debug';
  logger[level]({ code, status }, 'add-checkpoint refused');
  return text(c, status, `${code}: ${(err as Error).message.replace(/\n/g, ' ')}\n`);
}

/** Creates the witness's Hono app. */
export function createWitnessApp(witness: Witness, logger: Logger): Hono {
  const app = new Hono();
  const tooLarge = () => {
    throw new InputError(
      'body_too_large',
      `request body is larger than ${MAX_REQUEST_BYTES} bytes`,
    );
  };
  const limit = bodyLimit({ maxSize: MAX_REQUEST_BYTES, onError: tooLarge });
  app.post('/add-checkpoint', limit, async (c) => {
    const body = fromUtf8(new Uint8Array(await c.req.arrayBuffer()), 'request body');
    const lines = witness.addCheckpoint(body);
    logger.info({ origin: originOf(body) }, 'cosigned checkpoint');
    return text(c, 200, lines);
  });
  app.onError((err, c) => answerError(c, err, logger));
  app.notFound((c) => text(c, 404, `no resource at ${c.req.method} ${c.req.path}\n`));
  return app;
}

/** The origin line of an accepted request, for the log line. */
function originOf(body: string): string {
  return body.slice(body.indexOf('\n\n') + 2).split('\n', 1)[0]!;
}

export interface WitnessServerOptions {
  witness: Witness;
  logger: Logger;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on; 0 picks a free port. */
  port: number;
}

export interface RunningWitness {
  url: string;
  close(): Promise<void>;
}

/** Serves a witness over HTTP until close(), which also closes its state. */
export async function startWitnessServer(options: WitnessServerOptions): Promise<RunningWitness> {
  const host = options.host ?? '127.0.0.1';
  const app = createWitnessApp(options.witness, options.logger);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new UsageError(`cannot listen on ${host} port ${options.port}: ${err.message}`)),
    );
    server.listen(options.port, host, () => resolve(server.address() as AddressInfo));
  });
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shown}:${address.port}`;
  options.logger.info({ url, origins: options.witness.origins }, 'listening');
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => options.witness.state.close());
  return { url, close };
}
