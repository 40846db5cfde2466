/**
 * Several `declog serve` processes on one PostgreSQL database, as separate
 * machines would run them: one data folder made by `declog init --store`,
 * then servers started on free loopback ports with `--store`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, type InitOutput, type ServerProcess, startServe } from '../support/cli-server.js';
import { decisionJSON } from '../support/decisions.js';

export interface Cluster {
  dir: string;
  init: InitOutput;
  servers: ServerProcess[];
  /** Servers not killed by the test. */
  alive(): ServerProcess[];
  stop(): Promise<void>;
}

/** Creates a log in the database `url` with `declog init --store`. */
export function initShared(url: string, origin = 'test.example/log') {
  const dir = join(mkdtempSync(join(tmpdir(), 'declog-cluster-')), 'data');
  const args = [CLI, 'init', '--data', dir, '--store', url, '--origin', origin, '--json'];
  const out = execFileSync(process.execPath, args);
  return { dir, init: JSON.parse(out.toString()) as InitOutput };
}

/** Starts `count` servers of the log in `url`, sharing one data folder. */
export async function startCluster(url: string, count: number): Promise<Cluster> {
  const { dir, init } = initShared(url);
  const servers: ServerProcess[] = [];
  for (let i = 0; i < count; i++) servers.push(await startServe(dir, ['--store', url]));
  const killed = (s: ServerProcess) => s.child.exitCode !== null || s.child.signalCode !== null;
  return {
    dir,
    init,
    servers,
    alive: () => servers.filter((s) => !killed(s)),
    async stop() {
      for (const s of servers) if (!killed(s)) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    },
  };
}

/** What an acknowledged append returned. */
export interface Ack {
  id: string;
  index: number;
  leafHash: string;
  treeSize: number;
  checkpoint: string;
}

interface AppendReply {
  checkpoint: string;
  tree_size: number;
  entries: { index: number; leaf_hash: string }[];
  error?: { code: string; leader_url?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Appends decision `n` through any live server, following not_sequencer
 * answers to the sequencer they name and retrying for up to `deadlineMs`
 * while servers fail. Retries are idempotent: the ledger logs an ID once.
 */
export async function appendAnywhere(
  cluster: Cluster,
  n: number,
  deadlineMs = 20_000,
): Promise<Ack> {
  const body = JSON.stringify(decisionJSON(n));
  const headers = {
    'content-type': 'application/json',
    authorization: `Bearer ${cluster.init.token}`,
  };
  const until = Date.now() + deadlineMs;
  let target: string | undefined;
  while (Date.now() < until) {
    const alive = cluster.alive();
    const url = target ?? alive[n % alive.length]!.url;
    target = undefined;
    let reply: AppendReply;
    let status: number;
    try {
      const res = await fetch(`${url}/v1/decisions`, { method: 'POST', headers, body });
      status = res.status;
      reply = (await res.json()) as AppendReply;
    } catch {
      await sleep(50);
      continue;
    }
    if (status === 200) {
      const [entry] = reply.entries;
      return {
        id: `test-${n}`,
        index: entry!.index,
        leafHash: entry!.leaf_hash,
        treeSize: reply.tree_size,
        checkpoint: reply.checkpoint,
      };
    }
    if (status !== 503) throw new Error(`append ${n} got HTTP ${status}: ${JSON.stringify(reply)}`);
    target = reply.error?.leader_url;
    if (!target) await sleep(100);
  }
  throw new Error(`append ${n} was not acknowledged within ${deadlineMs} ms`);
}

/** Returns the URL of the server that sequences, from a not_sequencer answer or a success. */
export async function sequencerUrl(cluster: Cluster): Promise<string> {
  for (let tries = 0; tries < 100; tries++) {
    for (const s of cluster.alive()) {
      const res = await fetch(`${s.url}/v1/decisions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${cluster.init.token}`,
        },
        body: JSON.stringify(decisionJSON(1_000_000 + tries)),
      });
      const reply = (await res.json()) as AppendReply;
      if (res.status === 200) return s.url;
      if (reply.error?.leader_url) return reply.error.leader_url;
    }
    await sleep(100);
  }
  throw new Error('no server sequences the log');
}
