/**
 * Appends per second on PostgreSQL next to SQLite in the same run, and the
 * failover time of three servers on one PostgreSQL database: the sequencer
 * is killed with SIGKILL and the clock runs until an append is acknowledged
 * by another server. Servers are `declog serve` child processes on 127.0.0.1.
 *
 * Run: npm run build && DECLOG_TEST_PG=postgres://... node dist/bench/postgres.js
 *        [--seconds N] [--trials N]
 * DECLOG_TEST_PG names a server on which the benchmark may create databases.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** Requests in flight, and decisions in each, for the throughput figure. */
const CONCURRENCY = 16;
const BATCH = 10;

interface Server {
  url: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function declog(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args]).toString();
}

function serve(dir: string, extra: string[]): Promise<Server> {
  const args = [CLI, 'serve', '--data', dir, '--port', '0', ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const record = JSON.parse(line) as { msg?: string; url?: string };
      if (record.msg === 'listening') resolve({ url: record.url!, child, exited });
    });
    void exited.then(() => reject(new Error(`declog serve ${extra.join(' ')} exited`)));
  });
}

function decision(n: number) {
  return {
    id: `bench-${n}`,
    time: 1_700_000_000_000 + n,
    decision: 'accept',
    reason: 'ok',
    iss: 'https://login.enterprise.example',
    aud: 'https://mail.example.org',
    key_domain: 'enterprise',
    kid: `key-${n % 7}`,
    rp: 'mail',
  };
}

let next = 0;

/** Posts one request of `count` decisions; returns the HTTP status and body. */
async function post(url: string, token: string, count: number) {
  const decisions = Array.from({ length: count }, () => decision(next++));
  const res = await fetch(`${url}/v1/decisions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ decisions }),
  });
  const body = (await res.json()) as { error?: { leader_url?: string } };
  return { status: res.status, body };
}

/** Appends for `seconds` with CONCURRENCY requests of BATCH decisions in flight. */
async function throughput(url: string, token: string, seconds: number): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const { status } = await post(url, token, BATCH);
      if (status !== 200) throw new Error(`append got HTTP ${status}`);
      done += BATCH;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return done / ((Date.now() - started) / 1000);
}

async function createDatabase(admin: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `declog_bench_${process.pid}_${Date.now()}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

function initLog(root: string, store?: string): { dir: string; token: string } {
  const dir = join(root, `data-${next++}`);
  const args = ['init', '--data', dir, '--origin', 'bench.example/log', '--json'];
  const out = declog(store ? [...args, '--store', store] : args);
  return { dir, token: (JSON.parse(out) as { token: string }).token };
}

async function stopAll(servers: Server[]): Promise<void> {
  for (const s of servers) s.child.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
}

/** Returns the URL of the sequencing server, found by appending through the first one. */
async function sequencer(servers: Server[], token: string): Promise<string> {
  for (;;) {
    const { status, body } = await post(servers[0]!.url, token, 1);
    if (status === 200) return servers[0]!.url;
    if (body.error?.leader_url) return body.error.leader_url;
    await sleep(100);
  }
}

/** Kills the sequencer of three servers and times until another acknowledges an append. */
async function failover(root: string, admin: string): Promise<number> {
  const db = await createDatabase(admin);
  const { dir, token } = initLog(root, db.url);
  const servers: Server[] = [];
  try {
    for (let i = 0; i < 3; i++) servers.push(await serve(dir, ['--store', db.url]));
    const leader = await sequencer(servers, token);
    const victim = servers.find((s) => s.url === leader)!;
    const others = servers.filter((s) => s !== victim);
    const killed = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    for (let i = 0; ; i++) {
      const { status } = await post(others[i % 2]!.url, token, 1).catch(() => ({ status: 0 }));
      if (status === 200) return Date.now() - killed;
      await sleep(20);
    }
  } finally {
    await stopAll(servers.filter((s) => s.child.exitCode === null && !s.child.killed));
    await db.drop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      trials: { type: 'string', default: '3' },
    },
  });
  const admin = process.env['DECLOG_TEST_PG'];
  if (!admin) throw new Error('set DECLOG_TEST_PG to a PostgreSQL server URL');
  const seconds = Number(values.seconds);
  const root = mkdtempSync(join(tmpdir(), 'declog-bench-pg-'));
  try {
    const sqlite = initLog(root);
    const sqliteServer = await serve(sqlite.dir, []);
    const sqliteRate = await throughput(sqliteServer.url, sqlite.token, seconds);
    await stopAll([sqliteServer]);

    const db = await createDatabase(admin);
    const shared = initLog(root, db.url);
    const pgServer = await serve(shared.dir, ['--store', db.url]);
    await sequencer([pgServer], shared.token);
    const pgRate = await throughput(pgServer.url, shared.token, seconds);
    await stopAll([pgServer]);
    await db.drop();

    const times: number[] = [];
    for (let t = 0; t < Number(values.trials); t++) times.push(await failover(root, admin));
    const load = `${CONCURRENCY} requests of ${BATCH} decisions in flight, ${seconds} s`;
    console.log(
      `appends/s  sqlite ${sqliteRate.toFixed(0)}  postgres ${pgRate.toFixed(0)}  (${load})`,
    );
    console.log(
      `failover   ${times.map((t) => `${t} ms`).join(', ')}  (SIGKILL to first acknowledged append)`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
