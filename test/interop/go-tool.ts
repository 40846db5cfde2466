/**
 * Builds and runs the Go program of test/interop/go, which checks declog
 * with golang.org/x/mod/sumdb/note and sumdb/tlog. It builds offline from
 * Debian's golang-go and golang-golang-x-mod-dev (see .ci/run).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const GO_DIR = fileURLToPath(new URL('./go/', import.meta.url));

/** Where golang-golang-x-mod-dev installs x/mod; go.mod replaces the module with it. */
export const X_MOD_DIR = '/usr/share/gocode/src/golang.org/x/mod';

/**
 * Module mode with no network: the replace directive is the only source of
 * x/mod. No cgo, so no C compiler is needed.
 */
function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOFLAGS: '-mod=mod',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GO111MODULE: 'on',
    GOWORK: 'off',
    CGO_ENABLED: '0',
  };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(tmpdir(), 'go-cache');
  return env;
}

/** Returns why the Go program cannot be built here, or undefined when it can. */
export function goMissing(): string | undefined {
  try {
    execFileSync('go', ['version'], { stdio: 'pipe', env: goEnv() });
  } catch {
    return 'no working `go` on PATH (apt-get install golang-go golang-golang-x-mod-dev)';
  }
  if (!existsSync(join(X_MOD_DIR, 'sumdb/tlog/tlog.go'))) {
    return `no x/mod sources in ${X_MOD_DIR} (apt-get install golang-golang-x-mod-dev)`;
  }
  return undefined;
}

/** Builds the program into `dir` and returns the path of the binary. */
export async function buildGo(dir: string): Promise<string> {
  const bin = join(dir, 'declog-interop');
  await promisify(execFile)('go', ['build', '-o', bin, '.'], { cwd: GO_DIR, env: goEnv() });
  return bin;
}

export interface GoResult {
  /** Exit status: 0 passed, 1 a check failed, 2 bad usage. */
  code: number | null;
  /** The JSON object the program printed. */
  json: any;
  stderr: string;
}

/**
 * Runs the binary with `args`, writing `stdin` to it. Asynchronous, so a
 * server in this process keeps serving requests while Go queries it.
 */
export function runGo(bin: string, args: string[], stdin = ''): Promise<GoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, json: JSON.parse(stdout), stderr });
      } catch {
        reject(new Error(`${bin} ${args[0]} printed no JSON (exit ${code}): ${stdout}${stderr}`));
      }
    });
    child.stdin.end(stdin);
  });
}
