/**
 * `declog serve --readers N` on a real SQLite log: reader processes share
 * the port, serve reads from the same file, pass appends to the sequencing
 * process, never show a checkpoint older than an append's response, and stop,
 * die and come back without losing anything.
 */
import { chmodSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { Agent, get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { childPids } from '../../bench/machine.js';
import { openCheckpoint } from '../../src/checkpoint.js';
import { fromHex } from '../../src/encoding.js';
import { newVerifier } from '../../src/note.js';
import { verifyConsistency, verifyInclusion } from '../../src/verify.js';
import { sendTo } from '../../server/readers.js';
import { CLI, initData, type ServerProcess, startServe } from '../support/cli-server.js';
import { decisionJSON } from '../support/decisions.js';

const servers: ServerProcess[] = [];
afterAll(() => {
  for (const s of servers) s.child.kill('SIGKILL');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Returns the per-process part of a server-made X-Request-Id, which names the process that responded. */
function processOf(res: Response): string {
  return res.headers.get('x-request-id')!.split('-')[0]!;
}

/**
 * Opens keep-alive connections, one request each, until two processes have
 * at least one each, and leaves them open and idle. Returns their agents.
 */
async function holdIdleConnections(url: string): Promise<Agent[]> {
  const agents: Agent[] = [];
  const processes = new Set<string>();
  while (processes.size < 2) {
    if (agents.length >= 100) throw new Error('no connection reached a second process');
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    const id = await new Promise<string>((resolve, reject) => {
      get(`${url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-request-id']).split('-')[0]!));
      }).on('error', reject);
    });
    processes.add(id);
  }
  return agents;
}

async function startWithReaders(count: number) {
  const { dir, init } = initData();
  const server = await startServe(dir, ['--readers', String(count)]);
  servers.push(server);
  return { dir, init, server, verifier: newVerifier(init.verifier_key) };
}

describe('serve --readers', () => {
  it('every process serves fresh reads', async () => {
    const { init, server, verifier } = await startWithReaders(2);
    expect(childPids(server.child.pid!)).toHaveLength(2);
    const processes = new Set<string>();
    const receipts = new Map<string, { size: number; root: Uint8Array }>();
    let next = 0;
    // Writers append; right after each response a read goes out on another
    // connection, to whichever process takes it, and must see that checkpoint.
    const writer = async () => {
      for (let round = 0; round < 15; round++) {
        const batch = Array.from({ length: 5 }, () => decisionJSON(next++));
        const res = await fetch(`${server.url}/v1/decisions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${init.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ decisions: batch }),
        });
        expect(res.status).toBe(200);
        processes.add(processOf(res));
        const receipt = (await res.json()) as any;
        const { checkpoint } = openCheckpoint(receipt.checkpoint, verifier);
        receipts.set(receipt.checkpoint, checkpoint);
        for (const e of receipt.entries) {
          const proof = e.inclusion_proof.map((h: string) => fromHex(h));
          verifyInclusion(fromHex(e.leaf_hash), e.index, checkpoint.size, proof, checkpoint.root);
        }
        const latest = await fetch(`${server.url}/checkpoint`);
        processes.add(processOf(latest));
        const seen = openCheckpoint(await latest.text(), verifier).checkpoint;
        expect(seen.size).toBeGreaterThanOrEqual(checkpoint.size);
        const index = receipt.entries[0].index;
        const inclusion = await fetch(
          `${server.url}/v1/proof/inclusion?index=${index}&tree_size=${checkpoint.size}`,
        );
        expect(inclusion.status).toBe(200);
        processes.add(processOf(inclusion));
        const body = (await inclusion.json()) as any;
        expect(body.leaf_hash).toBe(receipt.entries[0].leaf_hash);
        const proof = body.inclusion_proof.map((h: string) => fromHex(h));
        verifyInclusion(fromHex(body.leaf_hash), index, checkpoint.size, proof, checkpoint.root);
      }
    };
    await Promise.all(Array.from({ length: 12 }, writer));
    // Three processes share the socket; twelve busy connections reach more than one.
    expect(processes.size).toBeGreaterThan(1);

    const latest = openCheckpoint(
      await (await fetch(`${server.url}/checkpoint`)).text(),
      verifier,
    ).checkpoint;
    expect(latest.size).toBe(next);
    // The earliest checkpoint a writer got is consistent with the latest, by any process.
    const first = [...receipts.values()].sort((a, b) => a.size - b.size)[0]!;
    const res = await fetch(`${server.url}/v1/proof/consistency?old=${first.size}`);
    const body = (await res.json()) as any;
    expect(body.tree_size).toBe(latest.size);
    const proof = body.consistency_proof.map((h: string) => fromHex(h));
    verifyConsistency(first.size, latest.size, proof, first.root, latest.root);

    // Any process serves search and entries too.
    for (let i = 0; i < 10; i++) {
      const entry = (await (await fetch(`${server.url}/v1/entries/${i}`)).json()) as any;
      expect(entry.index).toBe(i);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('checkpoints never go back across processes', async () => {
    const { init, server, verifier } = await startWithReaders(2);
    const end = Date.now() + 4_000;
    let next = 0;
    // Large batches keep the sequencing process busy between a commit and its publication.
    const writer = async () => {
      while (Date.now() < end) {
        const batch = Array.from({ length: 100 }, () => decisionJSON(next++));
        const res = await fetch(`${server.url}/v1/decisions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${init.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ decisions: batch }),
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    };
    const processes = new Set<string>();
    const wentBack: string[] = [];
    // Each read on a new connection, so that one client reads from every process in turn.
    const checker = async () => {
      let newest = { size: 0, process: '' };
      while (Date.now() < end) {
        const res = await fetch(`${server.url}/checkpoint`, { headers: { connection: 'close' } });
        const { size } = openCheckpoint(await res.text(), verifier).checkpoint;
        processes.add(processOf(res));
        if (size < newest.size) {
          wentBack.push(
            `${newest.size} from ${newest.process}, then ${size} from ${processOf(res)}`,
          );
        }
        if (size > newest.size) newest = { size, process: processOf(res) };
      }
    };
    await Promise.all([writer(), writer(), writer(), checker(), checker(), checker(), checker()]);
    expect(processes.size).toBe(3);
    expect(wentBack).toEqual([]);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('reader rejects bad appends identically', async () => {
    const { init, server } = await startWithReaders(1);
    const statuses = new Map<string, Set<string>>();
    const send = async (label: string, init2: RequestInit) => {
      const res = await fetch(`${server.url}/v1/decisions`, { method: 'POST', ...init2 });
      const body = (await res.json()) as any;
      const answer = `${res.status} ${body.error?.code ?? 'ok'}`;
      (statuses.get(label) ?? statuses.set(label, new Set()).get(label)!).add(answer);
      return processOf(res);
    };
    const auth = { authorization: `Bearer ${init.token}`, 'content-type': 'application/json' };
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) {
      // Each request on a new connection, so that both processes respond to each kind.
      const headers = { connection: 'close' };
      seen.add(await send('no token', { headers, body: '{}' }));
      seen.add(await send('bad token', { headers: { ...headers, authorization: 'Bearer x' } }));
      seen.add(await send('bad json', { headers: { ...headers, ...auth }, body: '{' }));
      seen.add(
        await send('bad field', {
          headers: { ...headers, ...auth },
          body: JSON.stringify(decisionJSON(1, { decision: 'maybe' })),
        }),
      );
    }
    expect(seen.size).toBe(2);
    expect(Object.fromEntries([...statuses].map(([k, v]) => [k, [...v]]))).toEqual({
      'no token': ['401 missing_token'],
      'bad token': ['403 invalid_token'],
      'bad json': ['400 malformed_json'],
      'bad field': ['400 invalid_decision'],
    });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('reader checks query before body', async () => {
    const { init, server } = await startWithReaders(1);
    // Declares a body over the 8 MiB limit and sends none of it: the answer comes first.
    const post = (path: string, contentType: string) =>
      new Promise<{ status: number; code: string; process: string }>((resolve, reject) => {
        const req = request(`${server.url}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${init.token}`,
            'content-type': contentType,
            'content-length': String(9 * 1024 * 1024),
            connection: 'close',
          },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => {
            req.destroy();
            resolve({
              status: res.statusCode!,
              code: JSON.parse(text).error?.code,
              process: String(res.headers['x-request-id']).split('-')[0]!,
            });
          });
        });
        req.flushHeaders();
      });
    const cases: [string, string, string][] = [
      ['/v1/decisions', 'application/json', '413 body_too_large'],
      ['/v1/decisions?foo=1', 'application/json', '400 invalid_argument'],
      ['/v1/decisions?format=xml', 'application/json', '400 invalid_argument'],
      ['/v1/decisions?wait=witnessed', 'application/json', '400 invalid_argument'],
      ['/v1/decisions', 'text/plain', '415 unsupported_media_type'],
    ];
    for (const [path, contentType, expected] of cases) {
      const processes = new Set<string>();
      for (let i = 0; i < 100 && processes.size < 2; i++) {
        const { status, code, process } = await post(path, contentType);
        expect(`${status} ${code}`, `${path} ${contentType} via ${process}`).toBe(expected);
        processes.add(process);
      }
      expect(processes.size, `${path} ${contentType} reached both processes`).toBe(2);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('restarts a killed reader, stops with server', async () => {
    const { init, server } = await startWithReaders(2);
    const [victim] = childPids(server.child.pid!);
    process.kill(victim!, 'SIGKILL');
    await until('a new reader runs', () => {
      const now = childPids(server.child.pid!);
      return now.length === 2 && !now.includes(victim!);
    });
    const readers = childPids(server.child.pid!);
    // Every connection is answered while and after the reader restarts.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}/v1/decisions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${init.token}`,
          'content-type': 'application/json',
          connection: 'close',
        },
        body: JSON.stringify(decisionJSON(i)),
      });
      expect(res.status).toBe(200);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    for (const pid of readers) expect(alive(pid), `reader ${pid} stopped`).toBe(false);
  });

  it('backs off restarting a failing reader', async () => {
    const { dir, server } = await startWithReaders(1);
    const delays: number[] = [];
    createInterface({ input: server.child.stdout! }).on('line', (line) => {
      const record = JSON.parse(line);
      if (record.msg === 'reader process exited; starting it again') {
        delays.push(record.restart_in_ms);
      }
    });
    // A key file that others can read stops every new reader at startup.
    chmodSync(join(dir, 'log.key'), 0o644);
    process.kill(childPids(server.child.pid!)[0]!, 'SIGKILL');
    await until('three restarts failed', () => delays.length >= 3, 20_000);
    expect(delays.slice(0, 3)).toEqual([1000, 2000, 4000]);
    chmodSync(join(dir, 'log.key'), 0o600);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('readers exit with the sequencer', async () => {
    const { server } = await startWithReaders(2);
    const readers = childPids(server.child.pid!);
    expect(readers).toHaveLength(2);
    // Idle keep-alive connections do not keep a reader alive.
    const agents = await holdIdleConnections(server.url);
    server.child.kill('SIGKILL');
    await server.exited;
    await until('the readers exit', () => readers.every((pid) => !alive(pid)), 5_000);
    for (const agent of agents) agent.destroy();
  });

  it('stops promptly with idle connections', async () => {
    const { server } = await startWithReaders(1);
    const agents = await holdIdleConnections(server.url);
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // Well below the time a reader gets to drain before it is killed.
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const agent of agents) agent.destroy();
  });

  it('rejects readers for PostgreSQL logs', () => {
    const { dir } = initData();
    const run = (args: string[]) => {
      try {
        execFileSync(process.execPath, [CLI, 'serve', '--data', dir, '--port', '0', ...args], {
          stdio: 'pipe',
        });
        return { status: 0, stderr: '' };
      } catch (err: any) {
        return { status: err.status as number, stderr: String(err.stderr) };
      }
    };
    const pg = run(['--readers', '1', '--store', 'postgres://127.0.0.1:1/none']);
    expect(pg.status).toBe(2);
    expect(pg.stderr).toContain('reader processes serve SQLite logs');
    const negative = run(['--readers', '-1']);
    expect(negative.status).toBe(2);
  });

  it('rejects too many readers', () => {
    // A folder without a ledger: should the bound be missing, serve fails before forking.
    const dir = join(tmpdir(), 'declog-no-such-folder');
    let status = 0;
    let stderr = '';
    try {
      const args = [CLI, 'serve', '--data', dir, '--port', '0', '--readers', '65'];
      execFileSync(process.execPath, args, { stdio: 'pipe' });
    } catch (err: any) {
      status = err.status;
      stderr = String(err.stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toContain('readers must be a whole number from 0 to 64, got 65');
  });
});

describe('sendTo', () => {
  it('logs a send to a dead reader', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    await new Promise((resolve) => child.once('spawn', resolve));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    // Block this thread while the child dies, so that its channel still looks connected.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    expect(child.connected).toBe(true);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    sendTo(child, { type: 'stop' }, logger);
    await exited;
    await until('the failed send is logged', () => lines.length > 0);
    expect(JSON.parse(lines[0]!).msg).toBe('sending to a reader failed');
  });
});
