/**
 * The wrk load driver of the benchmarks: wrk's Lua script sends the bytes
 * that renderRequest builds in JavaScript, and a wrk run against a real
 * server appends decisions with unique IDs that the log then contains.
 * The tests that run wrk are skipped where it is not installed.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDecision } from '../../src/decision.js';
import { bytesEqual } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { decodeBundle, entriesPath, TILE_WIDTH } from '../../src/tiles.js';
import { signedTreeSize, waitForTreeSize } from '../../bench/http.js';
import { runSampledLoad } from '../../bench/load.js';
import { ReceiptChecker } from '../../bench/receipts.js';
import { type RequestTemplate, renderRequest } from '../../bench/request-template.js';
import { findWrk, luaString, runWrk } from '../../bench/wrk.js';
import { batchParts, expectedLeafHash } from '../../bench/workload.js';
import { initData, type ServerProcess, startServe } from '../support/cli-server.js';

const hasWrk = findWrk() !== undefined;

it('luaString escapes special bytes', () => {
  expect(luaString('a"b\\c')).toBe('"a\\"b\\\\c"');
  expect(luaString('\r\n\u0000é')).toBe('"\\013\\010\\000\\195\\169"');
  expect(luaString(']]%d[[')).toBe('"]]%d[["');
});

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Starts an HTTP server on 127.0.0.1 that records every request and returns 200. */
async function startRecorder(): Promise<{ server: Server; url: URL; requests: Captured[] }> {
  const requests: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { method = '', url = '', headers } = req;
      requests.push({ method, url, headers, body: Buffer.concat(chunks) });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, url: new URL(`http://127.0.0.1:${address.port}`), requests };
}

describe('wrk driver', () => {
  it.skipIf(!hasWrk)('sends the requests renderRequest builds', async () => {
    const recorder = await startRecorder();
    try {
      const template: RequestTemplate = {
        method: 'POST',
        path: [
          '/t/',
          { integer: { of: 'random', below: 123_456_789 }, format: 'tile-index' },
          '?k=',
          { pick: ['a', 'b%d', 'c]]'], by: { of: 'n', add: 1 } },
          '&m=',
          { integer: { of: 'n', add: 1_720_000_000_000, mod: 1_000_003 } },
        ],
        headers: { authorization: 'Bearer "x\\y]] %s', 'x-tab': 'a\tb' },
        body: [
          'line\r\n\r\nnul \u0000 é "q" \\ ]] %d [',
          { repeat: 3, separator: ',', parts: [{ integer: { of: 'n' } }] },
          ']',
          ...batchParts('p"\\\n', 2),
        ],
      };
      // Request numbers near 2^40 test the reduction to 32 bits in both mix32 versions.
      const first = 2 ** 40 + 5;
      const run = await runWrk({
        url: recorder.url,
        template,
        connections: 1,
        threads: 1,
        seconds: 1,
        first,
      });
      const { requests } = recorder;
      // The last request may still be arriving when wrk exits.
      for (let wait = 0; wait < 40 && requests.length < run.sentTotal; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(run.sentTotal).toBeGreaterThan(10);
      expect(requests.length).toBe(run.sentTotal);
      expect(run.next).toBe(first + run.sentTotal);
      requests.forEach((got, k) => {
        const expected = renderRequest(template, first + k);
        expect(got.method).toBe(expected.method);
        expect(got.url).toBe(expected.path);
        expect(got.headers['authorization']).toBe(expected.headers!['authorization']);
        expect(got.headers['x-tab']).toBe('a\tb');
        expect(got.headers['host']).toBe(recorder.url.host);
        expect(got.body.equals(Buffer.from(expected.body!, 'utf8'))).toBe(true);
      });
    } finally {
      recorder.server.close();
    }
  });

  describe.skipIf(!hasWrk)('appends to a real server', () => {
    const prefix = 'wrk-test';
    const batch = 10;
    let server: ServerProcess;
    let token: string;
    let verifierKey: string;
    let dataDir: string;

    beforeAll(async () => {
      const { dir, init } = initData('wrk.test.example/log');
      dataDir = dir;
      token = init.token;
      verifierKey = init.verifier_key;
      server = await startServe(dir);
    });

    afterAll(async () => {
      server?.child.kill('SIGTERM');
      await server?.exited;
      if (dataDir) rmSync(dirname(dataDir), { recursive: true, force: true });
    });

    it.skipIf(!hasWrk)('counts requests and appends unique decisions', async () => {
      const checks = 20;
      const { load, samples, checkRequests } = await runSampledLoad(
        {
          url: server.url,
          concurrency: 8,
          seconds: 1,
          warmUpSeconds: 1,
          serverPid: server.child.pid,
          client: 'wrk',
          request: {
            method: 'POST',
            path: ['/v1/decisions'],
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: batchParts(prefix, batch),
          },
        },
        checks,
      );
      expect(load.client).toBe('wrk');
      expect(load.failed).toBe(0);
      expect(load.errors).toEqual({});
      expect(load.requests).toBeGreaterThan(0);
      expect(load.sent).toBeGreaterThan(load.requests);
      expect(load.seconds).toBeGreaterThanOrEqual(1);
      expect(load.latency.count).toBe(load.requests);
      expect(load.latency.p50Ms).toBeGreaterThan(0);
      expect(load.latency.p99Ms).toBeGreaterThanOrEqual(load.latency.p50Ms);
      expect(load.serverCores).toBeGreaterThan(0);
      expect(load.clientCores).toBeGreaterThanOrEqual(0);
      expect(checkRequests).toBe(checks);
      expect(samples).toHaveLength(checks);
      // With one thread, requests are numbered 0, 1, 2, ... across both runs.
      expect(load.next).toBe(load.sent);

      const decisions = (load.sent + checks) * batch;
      expect(await waitForTreeSize(server.url, verifierKey, decisions)).toBe(decisions);
      expect(await signedTreeSize(server.url, verifierKey)).toBe(decisions);

      const ids = new Set<string>();
      for (let tile = 0; tile * TILE_WIDTH < decisions; tile++) {
        const width = Math.min(TILE_WIDTH, decisions - tile * TILE_WIDTH);
        const res = await fetch(`${server.url}/${entriesPath(tile, width)}`);
        expect(res.status).toBe(200);
        const entries = decodeBundle(new Uint8Array(await res.arrayBuffer()), width);
        for (const entry of entries) {
          const decision = decodeDecision(entry);
          const n = Number(decision.id.slice(prefix.length + 1));
          expect(decision.id).toBe(`${prefix}-${n}`);
          const expected = expectedLeafHash(prefix, n, decision.validator);
          expect(bytesEqual(leafHash(entry), expected), decision.id).toBe(true);
          ids.add(decision.id);
        }
      }
      expect(ids.size).toBe(decisions);
      for (let n = 0; n < decisions; n++) expect(ids.has(`${prefix}-${n}`)).toBe(true);

      const checker = new ReceiptChecker(verifierKey);
      for (const { n, body } of samples) {
        const validator = 'default';
        const hashes = Array.from({ length: batch }, (_, i) =>
          expectedLeafHash(prefix, n * batch + i, validator),
        );
        checker.checkAppend(body, hashes);
      }
      expect(checker.checked).toBe(checks * batch);
    });
  });
});
