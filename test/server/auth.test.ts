import { describe, expect, it } from 'vitest';
import { AuthError } from '../../src/errors.js';
import { bearerAuth, bearerToken } from '../../server/auth.js';

describe('bearerToken', () => {
  it('bearer: reads token, any case', () => {
    expect(bearerToken('Bearer declog_abc-_1')).toBe('declog_abc-_1');
    expect(bearerToken('BEARER  x.y~z+/==')).toBe('x.y~z+/==');
  });

  it('bearer: ill-formed is missing_token', () => {
    const long = 'Bearer ' + 'a'.repeat(2000);
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic abc',
      'Bearer a b',
      'Bearer =a',
      long,
    ]) {
      let caught: unknown;
      try {
        bearerToken(header);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(header).slice(0, 20)).toBeInstanceOf(AuthError);
      expect((caught as AuthError).code).toBe('missing_token');
    }
  });

  it('bearerAuth: checks its argument', () => {
    expect(() => bearerAuth({} as never)).toThrow(TypeError);
  });
});
