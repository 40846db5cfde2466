/**
 * Runs the ledger's HTTP server in a child process, so that the load
 * generator and the server do not share an event loop: `declog serve` when
 * dist/cli/main.js exists, else bench/serve-child.ts. The child listens on
 * 127.0.0.1 at a free port and reports its URL in its `listening` log line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { trackChild } from './cleanup.js';
import { rssOf, sumOverProcessTree } from './machine.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const SERVE_CHILD = fileURLToPath(new URL('./serve-child.js', import.meta.url));

/** How long the child may take to open its ledger and listen. */
const START_TIMEOUT_MS = 120_000;
/** Pino's level number of `error`. */
const PINO_ERROR = 50;
/** Error lines kept for the report. */
const MAX_ERROR_LINES = 20;

/** How long the child may take to drain and exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 30_000;

export interface ServerProcess {
  url: string;
  pid: number;
  /** The command line that started the child, for the report. */
  command: string;
  /** The last log lines of level error or above that the child printed (at most 20). */
  errorLines(): string[];
  /** Resident set size of the child in bytes (VmRSS). */
  rssBytes(): number;
  /** Sends SIGTERM and resolves once the child has exited (SIGKILL after a timeout). */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /** Writes a V8 CPU profile of the child into this folder when it exits. */
  profileDir?: string;
  /** Reader processes of `declog serve --readers` (default 0; needs the built CLI). */
  readers?: number;
}

/**
 * Node.js flags of the server child, the same as `npm start` gives the server
 * (package.json). A young generation of up to 32 MiB per semi-space takes
 * the garbage of appends in fewer scavenges: batched appends went from about
 * 46,900 to 50,300 decisions/s in 10 s runs, for 60 to 90 MiB more RSS.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=32'];

function serverArgs(dataDir: string, options: ServerProcessOptions): string[] {
  const profile = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const server = existsSync(CLI)
    ? [CLI, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', '0']
    : [SERVE_CHILD, dataDir];
  if (options.readers) {
    if (!existsSync(CLI)) throw new Error(`reader processes need the built CLI, ${CLI}`);
    server.push('--readers', String(options.readers));
  }
  return [...SERVER_NODE_FLAGS, ...profile, ...server];
}

/** Resolves with the URL of the first `listening` line the child prints on stdout. */
function waitForListening(
  child: ChildProcess,
  stderr: () => string,
  errors: string[],
): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (why: string) => {
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      reject(new Error(`server child ${why}: ${stderr().slice(-2000)}`));
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited with ${signal ?? code} before listening`);
    const timer = setTimeout(
      () => fail(`did not listen within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    const onLine = (line: string) => {
      const record = parseLogLine(line);
      if (record?.msg !== 'listening' || typeof record.url !== 'string') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // Keep reading the log, or the child would block once the pipe is full.
      lines.off('line', onLine);
      lines.on('line', (next) => keepErrorLine(next, errors));
      resolve(record.url);
    };
    child.once('exit', onExit);
    lines.on('line', onLine);
  });
}

/** Keeps `line` in `errors` if it is a log line of level error or above, dropping the oldest. */
function keepErrorLine(line: string, errors: string[]): void {
  const level = parseLogLine(line)?.level;
  if (typeof level !== 'number' || level < PINO_ERROR) return;
  errors.push(line.slice(0, 2000));
  if (errors.length > MAX_ERROR_LINES) errors.shift();
}

function parseLogLine(line: string): { msg?: unknown; url?: unknown; level?: unknown } | undefined {
  try {
    return JSON.parse(line) as { msg?: unknown; url?: unknown; level?: unknown };
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts the server of `dataDir` in a child process and waits until it listens. */
export async function startServerProcess(
  dataDir: string,
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const args = serverArgs(dataDir, options);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-8192);
  });
  const errors: string[] = [];
  const url = await waitForListening(child, () => stderr, errors);
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited(child);
    clearTimeout(timer);
  };
  return {
    url,
    pid: child.pid!,
    command: ['node', ...args].join(' '),
    errorLines: () => [...errors],
    rssBytes: () => sumOverProcessTree(child.pid!, rssOf),
    stop,
  };
}
