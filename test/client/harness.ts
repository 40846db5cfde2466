/**
 * A real ledger server on a loopback port, and a loopback proxy in front of
 * it that can rewrite responses in flight, to test what the client rejects.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../server/main.js';
import { initDataDir, SIGNER_KEY_FILE } from '../../src/data-dir.js';
import type { DecisionInput } from '../../src/decision.js';

export interface TestLedger {
  server: RunningServer;
  url: string;
  token: string;
  verifierKey: string;
  /** The log's signing key string, to forge checkpoints the log key signs. */
  signerKey: string;
  close(): Promise<void>;
}

/** Creates a data folder and serves it on 127.0.0.1 with a free port. */
export async function startLedger(origin = 'test.example/log'): Promise<TestLedger> {
  const root = mkdtempSync(join(tmpdir(), 'declog-client-'));
  const dir = join(root, 'data');
  const init = await initDataDir(dir, origin);
  const logger = pino({ level: 'silent' });
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, logger });
  const signerKey = readFileSync(join(dir, SIGNER_KEY_FILE), 'utf8').trim();
  const close = async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  };
  return {
    server,
    url: server.url,
    token: init.token,
    verifierKey: init.verifierKey,
    signerKey,
    close,
  };
}

/** A decision whose id is unique per call unless `id` is given. */
let counter = 0;
export function decision(fields: Partial<DecisionInput> = {}): DecisionInput {
  counter++;
  return {
    id: `d-${process.pid}-${counter}`,
    time: 1_717_000_000_000 + counter,
    decision: 'reject',
    reason: 'key_domain_mismatch',
    iss: 'https://login.example.com',
    aud: 'mail',
    key_domain: 'consumer',
    kid: `k${counter % 3}`,
    rp: 'mail',
    ...fields,
  };
}

/** Rewrites one response: gets the request path and the upstream body, returns the new body. */
export type Tamper = (path: string, body: string) => string;

/** A response served instead of forwarding, or `hang` to never respond. */
export type Stub = { status: number; body: string; type?: string } | 'hang';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A forwarding proxy on 127.0.0.1; set `tamper` or `stub` to change what clients get. */
export class TamperProxy {
  tamper: Tamper | undefined;
  stub: ((path: string) => Stub | undefined) | undefined;
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise((done) => this.server?.close(done));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const stub = this.stub?.(path);
    if (stub === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (stub) {
      res.writeHead(stub.status, { 'content-type': stub.type ?? 'application/json' });
      res.end(stub.body);
      return;
    }
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'accept']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await fetch(this.target + path, {
      method: req.method,
      headers,
      body: req.method === 'GET' ? undefined : body,
    });
    const text = await upstream.text();
    const out = this.tamper ? this.tamper(path, text) : text;
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'text/plain',
    });
    res.end(out);
  }
}

/** Flips the last hex digit of a 64-digit hash. */
export function flipHex(hex: string): string {
  const last = hex[hex.length - 1] === '0' ? '1' : '0';
  return hex.slice(0, -1) + last;
}

/** Changes one base64 character in the middle of a note's last signature line. */
export function breakSignature(note: string): string {
  const lines = note.split('\n');
  const i = lines.length - 2;
  const line = lines[i]!;
  const at = line.length - 20;
  lines[i] = line.slice(0, at) + (line[at] === 'A' ? 'B' : 'A') + line.slice(at + 1);
  return lines.join('\n');
}
