import { describe, expect, it } from 'vitest';
import {
  AuthError,
  InputError,
  NetworkError,
  NotFoundError,
  StorageError,
  VerificationError,
} from '../../src/errors.js';
import { httpError } from '../../server/errors.js';

const status = (err: unknown) => httpError(err).status;

describe('httpError', () => {
  it('errors: classes and codes map to statuses', () => {
    expect(status(new InputError('invalid_number', 'x'))).toBe(400);
    expect(status(new InputError('body_too_large', 'x'))).toBe(413);
    expect(status(new InputError('unsupported_media_type', 'x'))).toBe(415);
    expect(status(new AuthError('missing_token', 'x'))).toBe(401);
    expect(status(new AuthError('invalid_token', 'x'))).toBe(403);
    expect(status(new NotFoundError('checkpoint_not_found', 'x'))).toBe(404);
    expect(status(new VerificationError('bad_signature', 'x'))).toBe(422);
    expect(status(new StorageError('storage_failed', 'x'))).toBe(503);
  });

  it('errors: anything else is bare 500', () => {
    const bare = { error: { code: 'internal', message: 'internal error' } };
    for (const err of [
      new Error('secret detail'),
      new StorageError('corrupt_store', 'secret detail'),
      new NetworkError('network_error', 'secret detail'),
      'a string',
    ]) {
      expect(httpError(err)).toEqual({ status: 500, body: bare, headers: {} });
    }
  });

  it('errors: a wait that timed out is 503', () => {
    const e = httpError(new NetworkError('timeout', 'no witness quorum within 30000 ms'));
    expect(e.status).toBe(503);
    expect(e.body.error).toEqual({ code: 'timeout', message: 'no witness quorum within 30000 ms' });
  });

  it('errors: body has code and message', () => {
    const e = httpError(new InputError('invalid_number', 'invalid index "x"'));
    expect(e.body).toEqual({ error: { code: 'invalid_number', message: 'invalid index "x"' } });
  });
});
