/**
 * The X-Request-Id of every response. A valid id sent by the client (1 to
 * 64 characters of A-Z a-z 0-9 _ - =) is kept. Otherwise the server makes
 * one from a random per-app prefix and a counter, which costs less per
 * request than a random UUID and is unique within the app's lifetime.
 */
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** Maximum length of a client's request id that is kept. */
export const MAX_REQUEST_ID_LENGTH = 64;

const VALID_REQUEST_ID = /^[\w=-]+$/;

/** Returns the middleware that sets c.get('requestId') and the X-Request-Id response header. */
export function requestId(): MiddlewareHandler<AppEnv> {
  const prefix = `${randomBytes(8).toString('hex')}-`;
  let count = 0;
  return (c, next) => {
    let id = c.req.header(REQUEST_ID_HEADER);
    if (!id || id.length > MAX_REQUEST_ID_LENGTH || !VALID_REQUEST_ID.test(id)) {
      count += 1;
      id = prefix + count.toString(36);
    }
    c.set('requestId', id);
    c.header(REQUEST_ID_HEADER, id);
    return next();
  };
}
