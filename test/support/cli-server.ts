/**
 * Runs the real `declog` binary (dist/cli/main.js) as a child process: init a
 * data folder, start a server on a free loopback port, stop or kill it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface InitOutput {
  origin: string;
  verifier_key: string;
  token: string;
}

/** Creates a data folder with `declog init --json`. */
export function initData(origin = 'test.example/log'): { dir: string; init: InitOutput } {
  const dir = join(mkdtempSync(join(tmpdir(), 'declog-cli-')), 'data');
  const out = execFileSync(process.execPath, [
    CLI,
    'init',
    '--data',
    dir,
    '--origin',
    origin,
    '--json',
  ]);
  return { dir, init: JSON.parse(out.toString()) as InitOutput };
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts `declog serve` on a free port and resolves once it logs that it is listening. */
export async function startServe(dir: string, extra: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dir, '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  if (process.env['DECLOG_TEST_SERVER_LOG']) {
    child.stderr!.on('data', (chunk) => process.stderr.write(chunk));
    child.stdout!.on('data', (chunk) => process.stderr.write(chunk));
    void exited.then((code) => process.stderr.write(`declog serve exited with ${code}\n`));
  }
  const url = await new Promise<string>((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const record = JSON.parse(line);
        if (record.msg === 'listening') done(record.url);
      } catch {
        // Not a log line.
      }
    });
    void exited.then((code) => fail(new Error(`declog serve exited with ${code}: ${stderr}`)));
  });
  return { url, child, exited };
}
