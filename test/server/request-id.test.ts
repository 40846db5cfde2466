import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, get, post, startTestServer } from './harness.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(() => server.stop());

const ID = /^[\w-]{1,64}$/;

/** Returns the X-Request-Id of a response to GET `path`, sending `sent` as the request's id. */
async function responseId(path: string, sent?: string): Promise<string | null> {
  const headers: Record<string, string> = sent === undefined ? {} : { 'X-Request-Id': sent };
  return (await get(server, path, headers)).headers.get('x-request-id');
}

describe('X-Request-Id', () => {
  it('generated on every response', async () => {
    for (const path of ['/checkpoint', '/no-such-route', '/v1/entries/99']) {
      expect(await responseId(path)).toMatch(ID);
    }
  });

  it('generated ids are unique', async () => {
    const ids = new Set<string | null>();
    for (let i = 0; i < 20; i++) ids.add(await responseId(i % 2 === 0 ? '/checkpoint' : '/nope'));
    expect(ids.size).toBe(20);
  });

  it('valid client id is echoed', async () => {
    const valid = `${'a'.repeat(60)}_-=9`;
    expect(await responseId('/checkpoint', valid)).toBe(valid);
  });

  it('invalid client id is replaced', async () => {
    for (const invalid of ['a'.repeat(65), 'a b', 'id/1', 'x.y']) {
      const id = await responseId('/checkpoint', invalid);
      expect(id).not.toBe(invalid);
      expect(id).toMatch(ID);
    }
  });

  it('client id reaches errors and logs', async () => {
    const failed = await post(server, null, {
      raw: '{',
      headers: { 'X-Request-Id': 'req-echo-1' },
    });
    expect(failed.status).toBe(400);
    expect(failed.headers.get('x-request-id')).toBe('req-echo-1');
    expect(server.logs().some((l) => l.req_id === 'req-echo-1')).toBe(true);
  });
});
