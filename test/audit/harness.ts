/**
 * Forked logs for the auditor and monitor tests: two ledgers that share one
 * signing key and origin (a data folder copied before its first append),
 * each served on a loopback port, and a proxy that shows clients one or the
 * other, so a client sees a log that signs two histories.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { initDataDir, SIGNER_KEY_FILE } from '../../src/data-dir.js';
import type { DecisionInput } from '../../src/decision.js';
import { startServer, type RunningServer } from '../../server/main.js';

export const ORIGIN = 'audit.example/log';

export interface ForkedLogs {
  a: RunningServer;
  b: RunningServer;
  token: string;
  verifierKey: string;
  signerKey: string;
  root: string;
  close(): Promise<void>;
}

/** Starts two ledgers with the same key and origin and no entries. */
export async function startForkedLogs(): Promise<ForkedLogs> {
  const root = mkdtempSync(join(tmpdir(), 'declog-audit-'));
  const init = await initDataDir(join(root, 'a'), ORIGIN);
  cpSync(join(root, 'a'), join(root, 'b'), { recursive: true });
  const logger = pino({ level: 'silent' });
  const start = (dir: string) =>
    startServer({ dataDir: join(root, dir), host: '127.0.0.1', port: 0, logger });
  const [a, b] = [await start('a'), await start('b')];
  const signerKey = readFileSync(join(root, 'a', SIGNER_KEY_FILE), 'utf8').trim();
  const close = async () => {
    await Promise.all([a.close(), b.close()]);
    rmSync(root, { recursive: true, force: true });
  };
  return { a, b, token: init.token, verifierKey: init.verifierKey, signerKey, root, close };
}

let counter = 0;

/** A decision with a unique id; `fields` override the defaults. */
export function decision(fields: Partial<DecisionInput> = {}): DecisionInput {
  counter++;
  return {
    id: `audit-${process.pid}-${counter}`,
    time: Date.now(),
    decision: 'accept',
    reason: 'ok',
    iss: 'https://login.enterprise.example',
    aud: 'https://mail.example.org',
    key_domain: 'enterprise',
    kid: `k${counter % 3}`,
    rp: 'mail',
    ...fields,
  };
}

/** Appends decisions to a ledger over HTTP in one request and returns the new tree size. */
export async function append(url: string, token: string, list: DecisionInput[]): Promise<number> {
  const res = await fetch(`${url}/v1/decisions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ decisions: list }),
  });
  if (res.status !== 200) throw new Error(`append failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { tree_size: number }).tree_size;
}

/** Appends `count` default decisions. */
export function appendMany(url: string, token: string, count: number): Promise<number> {
  return append(
    url,
    token,
    Array.from({ length: count }, () => decision()),
  );
}

/** Rewrites a response body: gets the path and the upstream bytes. */
export type Rewrite = (path: string, body: Uint8Array) => Uint8Array;

/** A loopback proxy that forwards GETs to `target`, which the test can switch. */
export class SwitchProxy {
  rewrite: Rewrite | undefined;
  private server: Server | undefined;

  constructor(public target: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void (async () => {
        const upstream = await fetch(this.target + (req.url ?? '/'));
        let body = new Uint8Array(await upstream.arrayBuffer());
        if (this.rewrite) body = this.rewrite(req.url ?? '/', body);
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
        });
        res.end(body);
      })().catch(() => res.destroy());
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((done) => this.server?.close(done));
  }
}
