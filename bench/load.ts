/**
 * Closed-loop HTTP load: a fixed number of requests in flight over
 * keep-alive connections to 127.0.0.1, each connection sending its next
 * request as soon as the previous response has been read in full. The load
 * comes from wrk when it is on PATH (bench/wrk.ts, one thread), else from
 * the node:http client in this file. That client takes 150 to 220 us of CPU
 * per request on the benchmark machine, about as much as the server does.
 */
// TODO: drive the load from a second machine when the benchmarks get one: on
// one machine the generator takes 0.04 to 0.2 cores (wrk) or 0.1 to 0.9 cores
// (node:http) from the server it measures.
import { Agent, request as httpRequest } from 'node:http';
import { cpuSecondsOf, sumOverProcessTree } from './machine.js';
import {
  renderRequest,
  type RequestSpec,
  type RequestTemplate,
  validateTemplate,
} from './request-template.js';
import { LatencyRecorder, type LatencySummary, Reservoir } from './stats.js';
import { findWrk, runWrk, type WrkRun } from './wrk.js';

/** The load generators: wrk, or the node:http client in this process. */
export type LoadClient = 'wrk' | 'node';

export const LOAD_CLIENTS: readonly LoadClient[] = ['wrk', 'node'];

/**
 * wrk threads. One is enough: in --quick runs it used 0.04 to 0.20 cores
 * while the server was the busier process.
 */
const WRK_THREADS = 1;
/** Requests in flight for the check requests sent after a wrk run. */
const CHECK_CONCURRENCY = 4;

/** Returns wrk when it is on PATH, else node. */
export function defaultClient(): LoadClient {
  return findWrk() === undefined ? 'node' : 'wrk';
}

/** Parses a --client value; undefined gives the default client. */
export function parseClient(value: string | undefined): LoadClient {
  if (value === undefined) return defaultClient();
  if (!(LOAD_CLIENTS as readonly string[]).includes(value)) {
    throw new Error(`--client ${value}: expected one of ${LOAD_CLIENTS.join(', ')}`);
  }
  if (value === 'wrk' && findWrk() === undefined) {
    throw new Error('--client wrk: wrk is not on PATH; install it (apt-get install wrk)');
  }
  return value as LoadClient;
}

export interface LoadOptions {
  /** Base URL of the server; its host must be 127.0.0.1 or [::1]. */
  url: string;
  /** Requests in flight at any time, one per connection. */
  concurrency: number;
  /** Measured duration; wrk rounds it to whole seconds, at least 1. */
  seconds: number;
  /** Unmeasured duration before it, to warm up both processes (default 0). */
  warmUpSeconds?: number;
  /** The requests; request n is renderRequest(request, n). */
  request: RequestTemplate;
  /** Number of the first request (default 0); later requests count up from it. */
  first?: number;
  /** Process ID of the server, whose CPU time is read at the start and end of the measured period. */
  serverPid?: number;
  /** The load generator (default: wrk when it is on PATH). */
  client?: LoadClient;
  /**
   * Sees every measured response of the node client, on the load
   * generator's time, so keep it cheap. wrk passes no responses.
   */
  onResponse?: (n: number, status: number, body: string) => void;
}

/**
 * Options of the node:http client, which builds each request with a
 * function and can stop after a number of requests.
 */
export interface NodeLoadOptions extends Omit<LoadOptions, 'request' | 'client'> {
  /** Builds request number `n`, counted from `first` across warm-up and measurement. */
  request: (n: number) => RequestSpec;
  /** Stops sending after this many requests in total (default: no limit). */
  maxRequests?: number;
}

export interface LoadResult {
  /** The load generator that sent the measured requests. */
  client: LoadClient;
  /** Requests completed in the measured period. */
  requests: number;
  /**
   * Failures in the measured period by kind: the node client counts
   * responses by status (any but 200), wrk counts responses with a status
   * of 400 or more, socket errors and timeouts.
   */
  errors: Record<string, number>;
  /** Failures in the measured period, all kinds. */
  failed: number;
  seconds: number;
  requestsPerSecond: number;
  /** Latency of the measured requests; wrk's is corrected for coordinated omission (see WrkResult). */
  latency: LatencySummary;
  /** Requests sent in total, warm-up included. */
  sent: number;
  /** The first request number the run did not use: requests after the run count up from it. */
  next: number;
  /** Cores the server used on average in the measured period (CPU seconds per second). */
  serverCores?: number;
  /** Cores the load generator used on average in the measured period. */
  clientCores: number;
}

/** CPU time of the load generator and of the server at one moment, in seconds. */
interface CpuMark {
  at: number;
  client: number;
  server?: number;
}

/** Marks the server's CPU time and that of the client process `clientPid`, or of this process. */
function markCpu(serverPid: number | undefined, clientPid?: number): CpuMark {
  let client: number;
  if (clientPid === undefined) {
    const { user, system } = process.cpuUsage();
    client = (user + system) / 1e6;
  } else {
    client = cpuSecondsOf(clientPid);
  }
  const server = serverPid === undefined ? undefined : sumOverProcessTree(serverPid, cpuSecondsOf);
  return { at: performance.now(), client, server };
}

/** Returns the cores each process used between two marks. */
function coresBetween(start: CpuMark, end: CpuMark): { clientCores: number; serverCores?: number } {
  const seconds = (end.at - start.at) / 1000;
  const clientCores = (end.client - start.client) / seconds;
  if (start.server === undefined || end.server === undefined) return { clientCores };
  return { clientCores, serverCores: (end.server - start.server) / seconds };
}

interface Response {
  status: number;
  body: string;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]']);

function checkLoopback(url: URL): void {
  if (!LOOPBACK.has(url.hostname) || url.protocol !== 'http:') {
    throw new Error(`load is sent only to http://127.0.0.1 or http://[::1], not ${url.origin}`);
  }
}

function send(agent: Agent, base: URL, spec: RequestSpec): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = { ...spec.headers };
    if (spec.body !== undefined) headers['content-length'] = String(Buffer.byteLength(spec.body));
    const req = httpRequest(
      {
        agent,
        host: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port,
        method: spec.method,
        path: spec.path,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(spec.body);
  });
}

/**
 * Runs the node:http client and returns throughput and latency of the
 * measured period. Runs of a fixed number of requests (maxRequests) need
 * this client, because wrk runs for a duration only.
 */
export async function runNodeLoad(options: NodeLoadOptions): Promise<LoadResult> {
  const base = new URL(options.url);
  checkLoopback(base);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latency = new LatencyRecorder();
  const errors: Record<string, number> = {};
  let failed = 0;
  const first = options.first ?? 0;
  let next = first;
  let requests = 0;
  const warmUpEnd = performance.now() + (options.warmUpSeconds ?? 0) * 1000;
  const end = warmUpEnd + options.seconds * 1000;

  const limit = first + (options.maxRequests ?? Infinity);
  let startMark = markCpu(options.serverPid);
  const warmUp = setTimeout(
    () => (startMark = markCpu(options.serverPid)),
    warmUpEnd - performance.now(),
  );
  const loop = async () => {
    while (performance.now() < end && next < limit) {
      const n = next++;
      const started = performance.now();
      const res = await send(agent, base, options.request(n));
      const finished = performance.now();
      // A response counts when it completes inside the measured period.
      if (finished < warmUpEnd || finished > end) continue;
      requests++;
      latency.record(finished - started);
      if (res.status !== 200) {
        errors[res.status] = (errors[res.status] ?? 0) + 1;
        failed++;
      }
      options.onResponse?.(n, res.status, res.body);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, loop));
  } finally {
    clearTimeout(warmUp);
    agent.destroy();
  }
  const cores = coresBetween(startMark, markCpu(options.serverPid));
  const seconds = Math.min(options.seconds, (performance.now() - warmUpEnd) / 1000);
  return {
    client: 'node',
    requests,
    errors,
    failed,
    seconds,
    requestsPerSecond: requests / seconds,
    latency: latency.summary(),
    sent: next - first,
    next,
    ...cores,
  };
}

/** wrk's -d takes whole seconds. */
function wholeSeconds(seconds: number): number {
  return Math.max(1, Math.round(seconds));
}

/** Names of wrk's error counts in LoadResult.errors. */
const WRK_ERRORS = {
  status: 'status >= 400',
  connect: 'connect error',
  read: 'read error',
  write: 'write error',
  timeout: 'timeout',
} as const;

/** Converts the measured wrk run to a LoadResult; `warmUpSent` counts the warm-up's requests. */
function wrkLoadResult(
  measured: WrkRun,
  warmUpSent: number,
  cores: ReturnType<typeof coresBetween>,
): LoadResult {
  const errors: Record<string, number> = {};
  for (const [kind, name] of Object.entries(WRK_ERRORS)) {
    const count = measured.errors[kind as keyof typeof WRK_ERRORS];
    if (count > 0) errors[name] = count;
  }
  const seconds = measured.durationUs / 1e6;
  const { requests } = measured;
  const ms = (us: number) => (requests === 0 ? NaN : us / 1000);
  return {
    client: 'wrk',
    requests,
    errors,
    failed: Object.values(errors).reduce((sum, count) => sum + count, 0),
    seconds,
    requestsPerSecond: requests / seconds,
    latency: {
      count: requests,
      p50Ms: ms(measured.latencyUs.p50),
      p99Ms: ms(measured.latencyUs.p99),
      maxMs: ms(measured.latencyUs.max),
    },
    sent: warmUpSent + measured.sentTotal,
    next: measured.next,
    ...cores,
  };
}

/**
 * Runs wrk: an unmeasured run of the warm-up duration, if any, then the
 * measured run, its requests numbered on from the warm-up's. The CPU marks
 * are taken right after wrk starts and while it waits to exit after the run.
 */
async function runWrkLoad(options: LoadOptions): Promise<LoadResult> {
  const base = new URL(options.url);
  checkLoopback(base);
  const run = {
    url: base,
    template: options.request,
    connections: options.concurrency,
    threads: WRK_THREADS,
  };

  let first = options.first ?? 0;
  let warmUpSent = 0;
  if ((options.warmUpSeconds ?? 0) > 0) {
    const warmUp = await runWrk({ ...run, seconds: wholeSeconds(options.warmUpSeconds!), first });
    warmUpSent = warmUp.sentTotal;
    first = warmUp.next;
  }

  let startMark: CpuMark | undefined;
  let endMark: CpuMark | undefined;
  const measured = await runWrk({
    ...run,
    seconds: wholeSeconds(options.seconds),
    first,
    onStart: (pid) => (startMark = markCpu(options.serverPid, pid)),
    onEnd: (pid) => (endMark = markCpu(options.serverPid, pid)),
  });
  return wrkLoadResult(measured, warmUpSent, coresBetween(startMark!, endMark!));
}

/** Runs the load and returns throughput and latency of the measured period. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  validateTemplate(options.request);
  const client = options.client ?? defaultClient();
  if (client === 'wrk') return runWrkLoad(options);
  return runNodeLoad({ ...options, request: (n) => renderRequest(options.request, n) });
}

/** A 200 response to request number n. */
export interface Sample {
  n: number;
  body: string;
}

export interface SampledLoad {
  load: LoadResult;
  /** 200 responses to verify. */
  samples: Sample[];
  /** Requests sent after the run to get the samples (none with the node client). */
  checkRequests: number;
}

/**
 * Runs the load and returns 200 responses to verify. The node client keeps
 * a uniform sample of `size` measured responses. wrk passes no bodies, so
 * after its run `size` more requests, numbered from its `next`, go through
 * the node client outside the measured period, and every one must return 200.
 */
export async function runSampledLoad(options: LoadOptions, size: number): Promise<SampledLoad> {
  const reservoir = new Reservoir<Sample>(size);
  const load = await runLoad({
    ...options,
    onResponse: (n, status, body) => {
      if (status === 200) reservoir.offer({ n, body });
      options.onResponse?.(n, status, body);
    },
  });
  if (load.client === 'node') return { load, samples: reservoir.items, checkRequests: 0 };
  const samples = await sendCheckRequests(options, load.next, size);
  return { load, samples, checkRequests: size };
}

/** Sends requests [first, first + count) through the node client and returns their responses. */
async function sendCheckRequests(
  options: LoadOptions,
  first: number,
  count: number,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const failures: string[] = [];
  await runNodeLoad({
    url: options.url,
    concurrency: Math.min(options.concurrency, CHECK_CONCURRENCY),
    seconds: Infinity,
    first,
    maxRequests: count,
    request: (n) => renderRequest(options.request, n),
    onResponse: (n, status, body) => {
      if (status === 200) samples.push({ n, body });
      else failures.push(`request ${n} returned ${status}: ${body.slice(0, 200)}`);
    },
  });
  if (failures.length > 0) {
    throw new Error(`${failures.length} of ${count} check requests failed: ${failures[0]}`);
  }
  return samples;
}
