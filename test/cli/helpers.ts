/**
 * Runs the built `declog` binary (dist/cli/main.js, built by
 * test/global-setup.ts) as a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Returns the test environment without the DECLOG_ variables of the caller's shell. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DECLOG_URL', 'DECLOG_TOKEN', 'DECLOG_DATA']) delete env[name];
  return { ...env, ...extra };
}

/** Runs `declog ARGS` to completion. */
export function run(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: baseEnv(opts.env ?? {}),
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  child.stdin.end(opts.input ?? '');
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

/** Creates an empty folder under the system temporary folder. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'declog-cli-'));
}

export interface InitOutput {
  origin: string;
  verifier_key: string;
  token: string;
}

/** Runs `declog init --json` in a new folder and returns the data folder and the output. */
export async function initData(): Promise<{ dir: string; init: InitOutput }> {
  const dir = join(tempDir(), 'data');
  const r = await run(['init', '--data', dir, '--origin', 'cli.example/log', '--json']);
  if (r.code !== 0) throw new Error(`declog init failed: ${r.stderr}`);
  return { dir, init: JSON.parse(r.stdout) as InitOutput };
}

export interface Served {
  url: string;
  child: ChildProcess;
  /** Lines the server wrote to stdout so far. */
  stdout: string[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `declog serve --port 0` and resolves once it logs the "listening" line. */
export async function serve(dir: string, extra: string[] = []): Promise<Served> {
  const args = [CLI, 'serve', '--data', dir, '--port', '0', ...extra];
  const child = spawn(process.execPath, args, {
    env: baseEnv({}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const stdout: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const url = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      if (line.includes('"listening"')) done((JSON.parse(line) as { url: string }).url);
    });
    void exited.then((code) => fail(new Error(`declog serve exited with ${code}: ${stderr}`)));
  });
  const stop = (signal: NodeJS.Signals = 'SIGTERM') => {
    child.kill(signal);
    return exited;
  };
  return { url, child, stdout, stderr: () => stderr, exited, stop };
}

/** Returns a loopback URL on which nothing listens. */
export async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return `http://127.0.0.1:${port}`;
}

/** Returns one JSON Lines decision. `n` makes the id unique within a test run. */
export function decisionLine(n: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: `cli-${process.pid}-${n}`,
    time: 1_717_000_000_000 + n,
    decision: 'reject',
    reason: 'key_domain_mismatch',
    iss: 'https://login.example.com',
    aud: 'mail',
    key_domain: 'consumer',
    kid: `k${n % 3}`,
    rp: 'mail',
    ...fields,
  });
}
