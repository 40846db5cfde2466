/**
 * The HTTP API of a ledger as a Hono app: appends, proofs, entries, search
 * and the static tile API, with one error mapper and a request id on every
 * response. The app does no I/O of its own beyond the ledger's.
 */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Ledger } from '../src/ledger.js';
import { registerAppend } from './append.js';
import { registerCheckpoint } from './checkpoint.js';
import { registerEntries } from './entries.js';
import type { AppEnv } from './env.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { registerProofs } from './proofs.js';
import { requestId } from './request-id.js';
import { registerSearch } from './search.js';
import type { Appender } from './readers.js';
import { registerTiles } from './tiles.js';
import type { WitnessPublisher } from '../src/witness-publisher.js';
import { registerWitnessing } from './witnessing.js';

/** Default maximum request body: 8 MiB. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

export interface AppOptions {
  /** Receives one debug line per client error and one error line per server error. */
  logger: Logger;
  /** Maximum request body in bytes (default 8 MiB). Larger bodies get a 413. */
  bodyLimit?: number;
  /** Publishes witnessed checkpoints when the ledger has a witness policy (default: none). */
  publisher?: WitnessPublisher;
  /** In a reader process: sequences appends in the sequencing process (default: the ledger). */
  appender?: Appender;
  /**
   * Polls the store for a newer checkpoint as each request arrives, because
   * other processes serve the same log (default: only with `appender`).
   */
  pollStore?: boolean;
}

/** Creates the Hono app serving `ledger`. */
export function createApp(ledger: Ledger, options: AppOptions): Hono<AppEnv> {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) {
    throw new RangeError(`bodyLimit must be a positive integer of bytes, got ${bodyLimit}`);
  }
  const app = new Hono<AppEnv>();
  app.use(requestId());
  if (options.appender || options.pollStore) {
    // See the newest commit first, whichever process or thread made it.
    app.use((_, next) => {
      ledger.pollStore();
      return next();
    });
  }
  registerAppend(app, ledger, bodyLimit, options.publisher, options.appender);
  registerCheckpoint(app, ledger, options.publisher);
  registerWitnessing(app, ledger, options.publisher);
  registerEntries(app, ledger);
  registerProofs(app, ledger, options.publisher);
  registerSearch(app, ledger);
  registerTiles(app, ledger);
  app.onError(errorHandler(options.logger));
  app.notFound(notFoundHandler(options.logger));
  return app;
}
