/**
 * Figures of the readers' tools, each against a ledger served by a
 * `declog serve` child process on 127.0.0.1:
 *
 * - audit: full recomputation of a log from its entry bundles, in entries/s
 *   and as a ratio to the tree-build rate (node:crypto SHA-256) measured in
 *   the same run;
 * - monitor catch-up: one monitor round over the whole pre-built log, in
 *   entries/s, per CPU second and as a ratio to the tree-build rate;
 * - monitor follow: throughput and detection delay while decisions are
 *   appended at a fixed rate (10,000 per second by default), one in 100
 *   breaking a rule, with the append rate the server achieved;
 * - export: range and filter bundles, and offline bundle verification.
 *
 * Run: npm run build && node dist/bench/audit.js [--entries N] [--rate N] [--seconds N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Auditor } from '../src/audit/auditor.js';
import { verifyBundle } from '../src/audit/bundle.js';
import { exportFilter, exportRange } from '../src/audit/export.js';
import { LogFetcher } from '../src/audit/log-fetcher.js';
import { Monitor, type Alert } from '../src/audit/monitor.js';
import { RuleSet } from '../src/audit/rules.js';
import type { TreeState } from '../src/audit/state.js';
import { DeclogClient } from '../src/client.js';
import { useNodeCrypto } from '../src/crypto-node.js';
import { initDataDir, openDataDir } from '../src/data-dir.js';
import { decisionFromJSON, type Decision } from '../src/decision.js';
import { newVerifier } from '../src/note.js';
import { benchTreeBuild } from './hashing.js';
import { formatLoad, machineInfo } from './machine.js';

const CLI = resolve(import.meta.dirname, '../cli/main.js');
const ORIGIN = 'bench.example/audit';
/** Entries per Ledger.append call while building the log. */
const BUILD_BATCH = 5000;
/** One decision in this many breaks the monitor's rule. */
const ALERT_EVERY = 100;
/** Decisions per append request of the monitor load. */
const LOAD_BATCH = 1000;
/** Append requests open at once in the monitor load. */
const LOAD_IN_FLIGHT = 8;

const RULES = {
  rules: [
    {
      name: 'consumer-key-for-enterprise',
      when: { decision: 'accept', key_domain: 'consumer', aud: ['https://mail.example.org'] },
    },
  ],
};

/** Decision `n` of the benchmark: one in ALERT_EVERY is a consumer-key accept. */
function decisionJson(n: number, time: number): Record<string, unknown> {
  return {
    id: `bench-${n}`,
    time,
    decision: 'accept',
    reason: 'ok',
    iss: 'https://login.enterprise.example',
    aud: 'https://mail.example.org',
    key_domain: n % ALERT_EVERY === 0 ? 'consumer' : 'enterprise',
    kid: `key-${n % 50}`,
    tenant: `tenant-${n % 20}`,
    rp: 'mail',
  };
}

function decisions(from: number, count: number, validator: string): Decision[] {
  const time = Date.now();
  return Array.from({ length: count }, (_, i) =>
    decisionFromJSON(decisionJson(from + i, time), validator),
  );
}

interface Served {
  url: string;
  child: ChildProcess;
}

/** Starts `declog serve` on the folder and resolves with its URL. */
async function serve(dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"listening"')) done((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', (code) => fail(new Error(`declog serve exited with ${code}`)));
  });
  return { url, child };
}

function stop(served: Served): Promise<void> {
  return new Promise((done) => {
    served.child.on('exit', () => done());
    served.child.kill('SIGTERM');
  });
}

/** Creates a ledger with `size` entries, built in this process. */
async function buildLog(size: number) {
  const root = mkdtempSync(join(tmpdir(), 'declog-bench-audit-'));
  const dataDir = join(root, 'data');
  const init = await initDataDir(dataDir, ORIGIN);
  const ledger = await openDataDir(dataDir, { maxBatchEntries: BUILD_BATCH });
  const start = performance.now();
  for (let n = 0; n < size; n += BUILD_BATCH) {
    const count = Math.min(BUILD_BATCH, size - n);
    await ledger.append(init.validator, decisions(n, count, init.validator));
  }
  await ledger.indexed();
  await ledger.close();
  const seconds = (performance.now() - start) / 1000;
  return { root, dataDir, init, buildSeconds: seconds };
}

async function benchAudit(url: string, verifierKey: string) {
  const auditor = new Auditor({
    fetcher: new LogFetcher({ url }),
    verifier: newVerifier(verifierKey),
  });
  const start = performance.now();
  const result = await auditor.audit();
  const seconds = (performance.now() - start) / 1000;
  return { entries: result.recomputed, seconds, rate: result.recomputed / seconds };
}

/** Returns the CPU time (user + system) this process used since `start`, in seconds. */
function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** Runs one monitor round over the whole log, as a first `declog monitor` run does. */
async function benchCatchUp(url: string, verifierKey: string) {
  const monitor = new Monitor({
    fetcher: new LogFetcher({ url }),
    verifier: newVerifier(verifierKey),
    rules: RuleSet.parse(RULES),
  });
  let alerts = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const round = await monitor.round(undefined, () => void alerts++);
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSince(cpu);
  return {
    entries: round.entries,
    alerts,
    seconds,
    rate: round.entries / seconds,
    cpuRate: round.entries / cpuSeconds,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Appends `rate` decisions per second for `seconds` while a monitor follows
 * the log every 100 ms, and measures what it read and how late it alerted.
 */
async function benchMonitor(
  url: string,
  token: string,
  verifierKey: string,
  rate: number,
  seconds: number,
) {
  const fetcher = new LogFetcher({ url });
  const monitor = new Monitor({
    fetcher,
    verifier: newVerifier(verifierKey),
    rules: RuleSet.parse(RULES),
  });
  let state: TreeState | undefined = (await monitor.round(undefined, () => undefined)).state;

  const delays: number[] = [];
  let entries = 0;
  let busyMs = 0;
  /** Duration of each round: the monitor's own part of the detection delay. */
  const rounds: number[] = [];
  let loading = true;

  const cpu = process.cpuUsage();
  const start = performance.now();
  const load = loadChild(url, token, rate, seconds, state.range.size).finally(
    () => (loading = false),
  );
  while (loading || entries === 0) {
    const t0 = performance.now();
    const round = await monitor.round(state, (a: Alert) => void delays.push(a.detection_delay_ms!));
    const roundMs = performance.now() - t0;
    busyMs += roundMs;
    rounds.push(roundMs);
    state = round.state;
    entries += round.entries;
    await new Promise((done) => setTimeout(done, 100));
  }

  const { sent, seconds: loadSeconds, latency } = await load;
  const final = await monitor.round(state, (a: Alert) => void delays.push(a.detection_delay_ms!));
  entries += final.entries;
  const cpuSeconds = cpuSince(cpu);
  const wallSeconds = (performance.now() - start) / 1000;

  delays.sort((a, b) => a - b);
  rounds.sort((a, b) => a - b);
  return {
    appendP50: latency.p50,
    appendP99: latency.p99,
    roundP50: percentile(rounds, 50),
    roundMax: rounds.at(-1) ?? NaN,
    sent,
    entries,
    achievedRate: sent / loadSeconds,
    throughput: entries / (busyMs / 1000),
    cpuPerEntryUs: (1e6 * cpuSeconds) / entries,
    coreShare: cpuSeconds / wallSeconds,
    alerts: delays.length,
    p50: percentile(delays, 50),
    p99: percentile(delays, 99),
    max: delays.at(-1) ?? NaN,
  };
}

/** Runs appendAtRate in a child process, so the load does not slow the monitor down. */
function loadChild(url: string, token: string, rate: number, seconds: number, first: number) {
  const args = [import.meta.filename, '--load', url, token, String(rate), String(seconds)];
  const child = spawn(process.execPath, [...args, String(first)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  return new Promise<{
    sent: number;
    seconds: number;
    latency: { p50: number; p99: number };
  }>((done, fail) => {
    child.on('exit', (code) =>
      code === 0 ? done(JSON.parse(out)) : fail(new Error(`load exited ${code}`)),
    );
  });
}

/**
 * Sends batches of LOAD_BATCH decisions on a fixed schedule, with at most
 * LOAD_IN_FLIGHT requests open, and returns the number sent, the seconds taken
 * and the latency of the append requests.
 * When the server falls behind, the schedule slips and the achieved rate drops.
 */
async function appendAtRate(
  url: string,
  token: string,
  rate: number,
  seconds: number,
  first: number,
) {
  const requests = Math.floor((rate * seconds) / LOAD_BATCH);
  const gapMs = (1000 * LOAD_BATCH) / rate;
  const start = performance.now();
  const inflight = new Set<Promise<void>>();
  const latencies: number[] = [];
  for (let r = 0; r < requests; r++) {
    const wait = start + r * gapMs - performance.now();
    if (wait > 0) await new Promise((done) => setTimeout(done, wait));
    while (inflight.size >= LOAD_IN_FLIGHT) await Promise.race(inflight);
    const time = Date.now();
    const body = Array.from({ length: LOAD_BATCH }, (_, i) => {
      const n = first + r * LOAD_BATCH + i;
      return { ...decisionJson(n, time), id: `load-${n}` };
    });
    const sentAt = performance.now();
    const request = post(url, token, body).finally(() => {
      inflight.delete(request);
      latencies.push(performance.now() - sentAt);
    });
    inflight.add(request);
  }
  await Promise.all(inflight);
  latencies.sort((a, b) => a - b);
  return {
    sent: requests * LOAD_BATCH,
    seconds: (performance.now() - start) / 1000,
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
  };
}

async function post(url: string, token: string, list: unknown[]): Promise<void> {
  const res = await fetch(`${url}/v1/decisions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ decisions: list }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`append answered HTTP ${res.status}`);
}

async function benchExport(url: string, verifierKey: string, size: number) {
  const client = new DeclogClient({ url, verifierKey });
  const end = Math.min(size, 100_000);
  // The filter goes first: the range export ends with a long offline check, and keep-alive
  // connections that sit idle meanwhile were seen closed under the next request.
  let t0 = performance.now();
  const filter = await exportFilter(client, new LogFetcher({ url }), verifierKey, {
    kid: 'key-7',
    tenant: 'tenant-7',
    limit: 1000,
  });
  const filterSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const range = await exportRange(client, new LogFetcher({ url }), verifierKey, 0, end);
  const rangeSeconds = (performance.now() - t0) / 1000;
  const verifier = newVerifier(verifierKey);
  t0 = performance.now();
  const r = verifyBundle(range, verifier);
  const verifyRangeSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const f = verifyBundle(filter, verifier);
  const verifyFilterSeconds = (performance.now() - t0) / 1000;
  return {
    range: {
      entries: r.entries.length,
      bytes: range.length,
      rate: r.entries.length / rangeSeconds,
    },
    filter: {
      entries: f.entries.length,
      bytes: filter.length,
      rate: f.entries.length / filterSeconds,
    },
    verifyRange: r.entries.length / verifyRangeSeconds,
    verifyFilter: f.entries.length / verifyFilterSeconds,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--load') {
    const [url, token, rate, seconds, first] = argv.slice(1) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const load = await appendAtRate(url, token, Number(rate), Number(seconds), Number(first));
    return void process.stdout.write(JSON.stringify(load));
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      entries: { type: 'string', default: '1000000' },
      rate: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const [size, rate, seconds] = [values.entries, values.rate, values.seconds].map(Number) as [
    number,
    number,
    number,
  ];
  useNodeCrypto();
  console.log(`load average at start: ${formatLoad(machineInfo().loadAverage)}`);
  const baseline = await benchTreeBuild(1_000_000);
  console.log(`tree build (node:crypto): ${fmt(baseline.leavesPerSecond)} leaves/s`);
  const log = await buildLog(size);
  console.log(`built ${fmt(size)} entries in ${log.buildSeconds.toFixed(1)} s`);
  const served = await serve(log.dataDir);
  try {
    const audit = await benchAudit(served.url, log.init.verifierKey);
    const ratio = audit.rate / baseline.leavesPerSecond;
    console.log(
      `audit: ${fmt(audit.entries)} entries recomputed in ${audit.seconds.toFixed(2)} s, ` +
        `${fmt(audit.rate)} entries/s (${ratio.toFixed(2)} x tree build)`,
    );
    await figure('monitor catch-up', () =>
      reportCatchUp(served.url, log.init.verifierKey, baseline.leavesPerSecond),
    );
    await figure('export', () => reportExport(served.url, log.init.verifierKey, size));
    await figure('monitor', () => reportMonitor(served.url, log.init, rate, seconds));
    console.log(`load average at end: ${formatLoad(machineInfo().loadAverage)}`);
  } finally {
    await stop(served);
    rmSync(log.root, { recursive: true, force: true });
  }
}

/** Runs one figure, printing its failure instead of stopping the other figures. */
async function figure(name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    console.log(`${name}: failed: ${(err as Error).message}`);
  }
}

async function reportExport(url: string, verifierKey: string, size: number): Promise<void> {
  const ex = await benchExport(url, verifierKey, size);
  console.log(
    `export --range: ${fmt(ex.range.entries)} entries, ${fmt(ex.range.rate)} entries/s; ` +
      `verify-bundle ${fmt(ex.verifyRange)} entries/s`,
  );
  console.log(
    `export filter: ${fmt(ex.filter.entries)} entries, ${fmt(ex.filter.rate)} entries/s; ` +
      `verify-bundle ${fmt(ex.verifyFilter)} entries/s`,
  );
}

async function reportCatchUp(url: string, verifierKey: string, baseline: number): Promise<void> {
  const c = await benchCatchUp(url, verifierKey);
  console.log(
    `monitor catch-up: ${fmt(c.entries)} entries and ${fmt(c.alerts)} alerts in ${c.seconds.toFixed(2)} s, ` +
      `${fmt(c.rate)} entries/s (${(c.rate / baseline).toFixed(2)} x tree build), ` +
      `${fmt(c.cpuRate)} entries per CPU second of the monitor`,
  );
}

async function reportMonitor(
  url: string,
  init: { token: string; verifierKey: string },
  rate: number,
  seconds: number,
): Promise<void> {
  const mon = await benchMonitor(url, init.token, init.verifierKey, rate, seconds);
  console.log(
    `monitor follow at ${fmt(rate)} decisions/s offered, ${fmt(mon.achievedRate)}/s appended: ` +
      `read ${fmt(mon.entries)} entries, ${fmt(mon.throughput)} entries/s while busy, ` +
      `${mon.cpuPerEntryUs.toFixed(1)} us of CPU per entry (${(100 * mon.coreShare).toFixed(0)}% of a core); ` +
      `${mon.alerts} alerts, detection delay p50 ${fmt(mon.p50)} ms, p99 ${fmt(mon.p99)} ms, max ${fmt(mon.max)} ms`,
  );
  console.log(
    `monitor follow: append request latency p50 ${fmt(mon.appendP50)} ms, p99 ${fmt(mon.appendP99)} ms; ` +
      `monitor round p50 ${fmt(mon.roundP50)} ms, max ${fmt(mon.roundMax)} ms, plus 100 ms between rounds`,
  );
  if (mon.achievedRate < 0.95 * rate) {
    console.log(
      `monitor follow: the server child appended only ${fmt(mon.achievedRate)} of the ${fmt(rate)} ` +
        `decisions/s offered on this machine, so the follow figure is bound by the server; ` +
        `the catch-up rate is the monitor's own headroom`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
