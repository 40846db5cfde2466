/**
 * A closed-loop HTTP load generator: a fixed number of requests in flight
 * over keep-alive connections to 127.0.0.1, each loop sending its next
 * request as soon as the previous response has been read in full.
 */
// TODO: drive the load from a second machine when the benchmarks get one: on
// one machine the generator takes 0.1 to 0.6 cores from the server it measures.
import { Agent, request as httpRequest } from 'node:http';
import { cpuSecondsOf } from './machine.js';
import type { RequestSpec } from './request-template.js';
import { LatencyRecorder, type LatencySummary } from './stats.js';

export type { RequestSpec };

export interface LoadOptions {
  /** Base URL of the server; its host must be 127.0.0.1 or [::1]. */
  url: string;
  /** Requests in flight at any time, one per connection. */
  concurrency: number;
  /** Measured duration. */
  seconds: number;
  /** Stops sending after this many requests in total (default: no limit). */
  maxRequests?: number;
  /** Unmeasured duration before it, to warm up both processes (default 0). */
  warmUpSeconds?: number;
  /** Builds request number `n` (numbered from 0 across warm-up and measurement). */
  request: (n: number) => RequestSpec;
  /** Process ID of the server, whose CPU time is read at the start and end of the measured period. */
  serverPid?: number;
  /** Sees every measured response; it runs on the load generator's time, so keep it cheap. */
  onResponse?: (n: number, status: number, body: string) => void;
}

export interface LoadResult {
  /** Requests completed in the measured period. */
  requests: number;
  /** Measured responses whose status was not 200, counted by status. */
  errors: Record<string, number>;
  /** Measured responses whose status was not 200. */
  failed: number;
  seconds: number;
  requestsPerSecond: number;
  latency: LatencySummary;
  /** Requests sent in total, warm-up included. */
  sent: number;
  /** Cores the server used on average in the measured period (CPU seconds per second). */
  serverCores?: number;
  /** Cores this load generator used on average in the measured period. */
  clientCores: number;
}

/** CPU time of this process and of the server at one moment, in seconds. */
interface CpuMark {
  at: number;
  client: number;
  server?: number;
}

function markCpu(serverPid: number | undefined): CpuMark {
  const { user, system } = process.cpuUsage();
  const server = serverPid === undefined ? undefined : cpuSecondsOf(serverPid);
  return { at: performance.now(), client: (user + system) / 1e6, server };
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

/** Runs the load and returns throughput and latency of the measured period. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const base = new URL(options.url);
  checkLoopback(base);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latency = new LatencyRecorder();
  const errors: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  let requests = 0;
  const warmUpEnd = performance.now() + (options.warmUpSeconds ?? 0) * 1000;
  const end = warmUpEnd + options.seconds * 1000;

  const limit = options.maxRequests ?? Infinity;
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
    requests,
    errors,
    failed,
    seconds,
    requestsPerSecond: requests / seconds,
    latency: latency.summary(),
    sent: next,
    ...cores,
  };
}
