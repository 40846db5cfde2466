/**
 * The one place that turns errors into HTTP responses. Handlers throw typed
 * errors, and this module maps each class and code to a status and the body
 * `{"error": {"code", "message"}}`. Anything unexpected becomes a bare 500
 * whose stack goes to the log only.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import {
  AuthError,
  InputError,
  NetworkError,
  NotFoundError,
  StorageError,
  VerificationError,
} from '../src/errors.js';
import { NotSequencerError } from '../src/leadership.js';
import type { AppEnv } from './env.js';

export interface ErrorBody {
  /** leader_url: where a not_sequencer append should go instead, when known. */
  error: { code: string; message: string; leader_url?: string };
}

/** Response header naming the sequencer's URL on a not_sequencer response. */
export const SEQUENCER_HEADER = 'Declog-Sequencer';

export interface HttpError {
  status: ContentfulStatusCode;
  body: ErrorBody;
  headers: Record<string, string>;
}

const INTERNAL: ErrorBody = { error: { code: 'internal', message: 'internal error' } };
const STORAGE_MESSAGE = 'the log storage is unavailable; retry later';

const INPUT_STATUS: Record<string, ContentfulStatusCode> = {
  body_too_large: 413,
  unsupported_media_type: 415,
};

function answer(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): HttpError {
  return { status, body: { error: { code, message } }, headers };
}

/** A 503 for an append sent to a server that does not sequence, naming the one that does. */
function notSequencer(err: NotSequencerError): HttpError {
  const e = answer(503, err.code, err.message, { 'Retry-After': '1' });
  if (err.leaderUrl) {
    e.body.error.leader_url = err.leaderUrl;
    e.headers[SEQUENCER_HEADER] = err.leaderUrl;
  }
  return e;
}

/** Status, body and extra headers for an error thrown while serving a request. */
export function httpError(err: unknown): HttpError {
  if (err instanceof InputError) {
    return answer(INPUT_STATUS[err.code] ?? 400, err.code, err.message);
  }
  if (err instanceof AuthError) {
    // RFC 6750 section 3: a 401 names the scheme the client must use.
    if (err.code === 'missing_token') {
      return answer(401, err.code, err.message, { 'WWW-Authenticate': 'Bearer' });
    }
    return answer(403, err.code, err.message);
  }
  if (err instanceof NotFoundError) return answer(404, err.code, err.message);
  if (err instanceof VerificationError) return answer(422, err.code, err.message);
  if (err instanceof NotSequencerError) return notSequencer(err);
  if (err instanceof StorageError && err.code === 'not_sequencer') {
    return answer(503, err.code, err.message, { 'Retry-After': '1' });
  }
  if (err instanceof StorageError && err.code === 'storage_failed') {
    return answer(503, err.code, STORAGE_MESSAGE, { 'Retry-After': '1' });
  }
  if (err instanceof NetworkError && err.code === 'timeout') {
    // A wait the server could not complete in time, such as ?wait=witnessed.
    return answer(503, err.code, err.message, { 'Retry-After': '5' });
  }
  if (err instanceof HTTPException && err.status < 500) {
    return answer(err.status as ContentfulStatusCode, 'invalid_argument', err.message);
  }
  return { status: 500, body: INTERNAL, headers: {} };
}

function requestFields(c: Context<AppEnv>) {
  return { req_id: c.get('requestId'), method: c.req.method, path: c.req.path };
}

function send(c: Context<AppEnv>, e: HttpError): Response {
  for (const [name, value] of Object.entries(e.headers)) c.header(name, value);
  return c.json(e.body, e.status);
}

/**
 * Returns the app's error handler: client errors get one debug line, server
 * errors an error line with the request id and the error (stack included).
 */
export function errorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return (err, c) => {
    const e = httpError(err);
    // not_sequencer is the expected response of a follower, not a server failure.
    if (e.status >= 500 && e.body.error.code !== 'not_sequencer') {
      logger.error({ ...requestFields(c), status: e.status, err }, 'request failed');
    } else {
      const code = e.body.error.code;
      logger.debug({ ...requestFields(c), status: e.status, code }, 'client error');
    }
    return send(c, e);
  };
}

/** Returns the handler of unknown routes: a JSON 404 and one debug line. */
export function notFoundHandler(logger: Logger): NotFoundHandler<AppEnv> {
  return (c) => {
    const err = new NotFoundError('not_found', `no resource at ${c.req.method} ${c.req.path}`);
    logger.debug({ ...requestFields(c), status: 404, code: err.code }, 'client error');
    return send(c, httpError(err));
  };
}
