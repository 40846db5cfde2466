/**
 * SDK write-path benchmark: decisions per second that one process records
 * through DeclogClient.record() with and without the SQLite spool, the
 * latency of record() itself, and the latency recordThenAdmit() adds (from
 * the call to a verified receipt). The ledger runs in the same process on a
 * temporary data folder, on 127.0.0.1, so the figures include its CPU time.
 *
 * Run: npx tsc -p . && node dist/bench/sdk.js [decisions]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServer } from '../server/main.js';
import { DeclogClient, type DeclogClientOptions } from '../src/client.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import { initDataDir } from '../src/data-dir.js';
import type { DecisionInput } from '../src/decision.js';

/** Decisions recorded concurrently, as by a validator serving that many requests at once. */
const CONCURRENCY = 64;
const ADMIT_SAMPLES = 500;

function decision(i: number): Omit<DecisionInput, 'id'> {
  return {
    time: 1_750_000_000_000 + i,
    decision: i % 10 === 0 ? 'reject' : 'accept',
    reason: i % 10 === 0 ? 'key_domain_mismatch' : 'ok',
    iss: 'https://login.enterprise.example',
    aud: 'https://mail.enterprise.example',
    key_domain: i % 10 === 0 ? 'consumer' : 'enterprise',
    kid: `k${i % 4}`,
    alg: 'ES256',
    tenant: 'contoso',
    rp: 'mail',
  };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function latency(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (ms: number) => `${ms.toFixed(2)} ms`;
  return `p50 ${f(percentile(sorted, 0.5))}, p99 ${f(percentile(sorted, 0.99))}`;
}

/** Records `count` decisions with CONCURRENCY callers, then flushes; returns rate and latencies. */
async function throughput(client: DeclogClient, count: number) {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  const caller = async () => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await client.record(decision(i));
      samples.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  await client.flush();
  const seconds = (performance.now() - started) / 1000;
  return { rate: count / seconds, samples };
}

async function admitLatency(client: DeclogClient): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < ADMIT_SAMPLES; i++) {
    const t = performance.now();
    await client.recordThenAdmit(decision(i), { budgetMs: 5000 });
    samples.push(performance.now() - t);
  }
  return samples;
}

async function main(): Promise<void> {
  useNodeCrypto();
  const count = Number(process.argv[2] ?? 20_000);
  const root = mkdtempSync(join(tmpdir(), 'declog-bench-sdk-'));
  const dataDir = join(root, 'data');
  const { token, verifierKey } = await initDataDir(dataDir, 'bench.example/log');
  const logger = pino({ level: 'silent' });
  const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, logger });
  const client = (options: Partial<DeclogClientOptions> = {}) =>
    new DeclogClient({ url: server.url, token, verifierKey, ...options });
  try {
    console.log(`node ${process.version}, ${count} decisions, ${CONCURRENCY} concurrent callers`);
    for (const [name, options] of [
      ['record() without spool', {}],
      ['record() with spool', { spool: join(root, 'spool.db') }],
    ] as const) {
      const c = client(options);
      const { rate, samples } = await throughput(c, count);
      await c.close();
      console.log(`${name}: ${Math.round(rate)} decisions/s; record() ${latency(samples)}`);
    }
    const c = client();
    await c.recordThenAdmit(decision(0), { budgetMs: 5000 });
    console.log(
      `recordThenAdmit() alone, ${ADMIT_SAMPLES} calls: ${latency(await admitLatency(c))}`,
    );
    await c.close();
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
