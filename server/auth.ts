/**
 * Bearer token authentication of writers (RFC 6750 section 2.1). The token
 * is only hashed and looked up, and it never reaches a log line or an error.
 */
import type { MiddlewareHandler } from 'hono';
import { AuthError } from '../src/errors.js';
import type { AppEnv } from './env.js';

/** Token lookup that the middleware calls, implemented by the ledger. */
export interface Authenticator {
  /** Returns the validator a token belongs to, or throws AuthError 'invalid_token'. */
  authenticate(token: string): Promise<string>;
}

/** `Bearer` (any case), spaces, then a b64token (RFC 6750 section 2.1). */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Maximum Authorization header length. Longer headers are ill-formed. */
const MAX_HEADER_LENGTH = 1024;

/** Returns the token of an `Authorization: Bearer <token>` header, or throws 'missing_token'. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined) {
    throw new AuthError('missing_token', 'this request needs an Authorization: Bearer header');
  }
  const match = header.length <= MAX_HEADER_LENGTH ? BEARER.exec(header) : null;
  if (!match) {
    throw new AuthError(
      'missing_token',
      'the Authorization header is not "Bearer <token>" with a token of A-Z a-z 0-9 - . _ ~ + /',
    );
  }
  return match[1]!;
}

/**
 * Middleware that authenticates the request's bearer token and sets the
 * context variable `validator` to the name it belongs to. A missing or
 * ill-formed header is AuthError 'missing_token' (401), an unknown token
 * 'invalid_token' (403).
 */
export function bearerAuth(authenticator: Authenticator): MiddlewareHandler<AppEnv> {
  if (typeof authenticator?.authenticate !== 'function') {
    throw new TypeError('bearerAuth needs an object with an authenticate(token) method');
  }
  return async (c, next) => {
    const token = bearerToken(c.req.header('Authorization'));
    c.set('validator', await authenticator.authenticate(token));
    await next();
  };
}
