/**
 * A real server for tests: a new data folder in a temp directory, the
 * SQLite ledger in it, listening on 127.0.0.1 on a free port, with its log
 * lines kept in memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect } from 'vitest';
import { openCheckpoint, type SignedCheckpoint } from '../../src/checkpoint.js';
import { initDataDir } from '../../src/data-dir.js';
import { fromHex } from '../../src/encoding.js';
import { newVerifier, type Verifier } from '../../src/note.js';
import { type RunningServer, type ServerOptions, startServer } from '../../server/main.js';

export const ORIGIN = 'log.example/declog';

export interface TestServer {
  running: RunningServer;
  url: string;
  dir: string;
  token: string;
  verifierKey: string;
  verifier: Verifier;
  /** Every log line so far, parsed. */
  logs: () => Record<string, any>[];
  /** Raw log text, to check that no secret was logged. */
  logText: () => string;
  stop: () => Promise<void>;
}

/** Returns a pino logger at debug level that keeps its lines in `lines`. */
export function memoryLogger(lines: string[]) {
  return pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
}

/** Creates a data folder and starts a server on it. */
export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'declog-server-'));
  const init = await initDataDir(join(dir, 'data'), ORIGIN);
  const lines: string[] = [];
  const running = await startServer({
    dataDir: join(dir, 'data'),
    port: 0,
    logger: memoryLogger(lines),
    ...options,
  });
  const stop = async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    running,
    url: running.url,
    dir,
    token: init.token,
    verifierKey: init.verifierKey,
    verifier: newVerifier(init.verifierKey),
    logs: () => lines.map((line) => JSON.parse(line)),
    logText: () => lines.join(''),
    stop,
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    json: type.includes('json') ? JSON.parse(text) : text,
  };
}

/** GETs a path and parses a JSON response body (a text body is returned as the string). */
export async function get(
  server: TestServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return answer(await fetch(server.url + path, { headers }));
}

/** POSTs a body to /v1/decisions (or `path`) with the server's token unless `headers` overrides it. */
export async function post(
  server: TestServer,
  body: unknown,
  options: { headers?: Record<string, string>; path?: string; raw?: string | Uint8Array } = {},
): Promise<Answer> {
  const headers = {
    'Content-Type': 'application/json',
    Authorization: `Bearer ${server.token}`,
    ...options.headers,
  };
  const init = { method: 'POST', headers, body: options.raw ?? JSON.stringify(body) };
  return answer(await fetch(server.url + (options.path ?? '/v1/decisions'), init));
}

/** Asserts an error response's status and code. */
export function expectError(reply: Answer, status: number, code: string): void {
  expect({ status: reply.status, code: reply.json?.error?.code }).toEqual({ status, code });
  expect(typeof reply.json.error.message).toBe('string');
}

/** Opens a signed checkpoint with the server's log key. */
export function open(server: TestServer, note: string): SignedCheckpoint {
  return openCheckpoint(note, server.verifier);
}

/** Returns the current tree size, read from /checkpoint and verified. */
export async function treeSize(server: TestServer): Promise<number> {
  const reply = await get(server, '/checkpoint');
  return open(server, reply.json).checkpoint.size;
}

/** Decodes a list of hex hashes. */
export function hashes(list: string[]): Uint8Array[] {
  return list.map((h) => fromHex(h));
}
