/**
 * Runs wrk (https://github.com/wg/wrk, 4.1.0 as Debian packages it) on a
 * request template: the template becomes a Lua script that builds request
 * number n in request(), and done() prints the run's counts and latency
 * percentiles as one JSON line. On the benchmark machine wrk took 23 to
 * 33 us of CPU per request, a seventh of what the node:http client in
 * load.ts took, so it leaves the server more of a shared machine's CPU.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeTempDir, removeTempDir, trackChild } from './cleanup.js';
import type { Integer, Part, RequestTemplate } from './request-template.js';

/** Starts the line with which the script's done() prints its JSON result. */
const RESULT_MARK = 'load-result ';
/** A request without a response after this long counts as a timeout error. */
const TIMEOUT_SECONDS = 10;
/** Time after the run's duration within which wrk must have exited. */
const EXIT_GRACE_MS = 60_000;

let wrkPath: string | null | undefined;

/** Returns the path of the first executable named wrk on PATH, or undefined. */
export function findWrk(): string | undefined {
  if (wrkPath === undefined) {
    wrkPath = null;
    for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
      if (dir === '') continue;
      try {
        accessSync(join(dir, 'wrk'), constants.X_OK);
        wrkPath = join(dir, 'wrk');
        break;
      } catch {
        // Not in this folder.
      }
    }
  }
  return wrkPath ?? undefined;
}

/**
 * Returns `text` as a Lua string literal of its UTF-8 bytes: visible ASCII
 * as it is, '"' and '\' escaped with a backslash, and every other byte as a
 * three-digit decimal escape, which Lua reads as exactly that byte.
 */
export function luaString(text: string): string {
  let literal = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) literal += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte <= 0x7e) literal += String.fromCharCode(byte);
    else literal += `\\${String(byte).padStart(3, '0')}`;
  }
  return literal + '"';
}

/** Lua statements that append the text of template parts to the table `b`. */
class PartsCompiler {
  /** The element lists of the template's pick parts, in the order they are numbered. */
  readonly picks: (readonly string[])[] = [];

  compile(parts: readonly Part[], n: string, depth: number, indent: string): string[] {
    const lines: string[] = [];
    let text = '';
    const flush = () => {
      if (text !== '') lines.push(`${indent}b[#b + 1] = ${luaString(text)}`);
      text = '';
    };
    for (const part of parts) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      flush();
      if ('integer' in part) {
        const value = luaInteger(part.integer, n);
        const formatted =
          part.format === 'tile-index' ? `tile_index(${value})` : `format("%.0f", ${value})`;
        lines.push(`${indent}b[#b + 1] = ${formatted}`);
      } else if ('pick' in part) {
        this.picks.push(part.pick);
        const index = `${luaInteger(part.by, n)} % ${part.pick.length} + 1`;
        lines.push(`${indent}b[#b + 1] = PICKS[${this.picks.length}][${index}]`);
      } else {
        lines.push(...this.compileRepeat(part, n, depth + 1, indent));
      }
    }
    flush();
    return lines;
  }

  /** Compiles a loop over the copies, where copy i uses `n * count + i` as its request number. */
  private compileRepeat(
    part: { repeat: number; separator: string; parts: readonly Part[] },
    n: string,
    depth: number,
    indent: string,
  ): string[] {
    const i = `i${depth}`;
    const inner = `n${depth}`;
    const lines = [`${indent}for ${i} = 0, ${part.repeat - 1} do`];
    if (part.separator !== '') {
      lines.push(`${indent}  if ${i} > 0 then b[#b + 1] = ${luaString(part.separator)} end`);
    }
    lines.push(`${indent}  local ${inner} = ${n} * ${part.repeat} + ${i}`);
    lines.push(...this.compile(part.parts, inner, depth, `${indent}  `));
    lines.push(`${indent}end`);
    return lines;
  }
}

/** Returns the Lua expression of `integer` for the request number in the Lua variable `n`. */
function luaInteger(integer: Integer, n: string): string {
  if (integer.of === 'random') return `random_below(${n}, ${integer.below})`;
  const sum = integer.add ? `(${n} + ${integer.add})` : n;
  return integer.mod === undefined ? sum : `(${sum} % ${integer.mod})`;
}

/**
 * Helpers that compute what request-template.ts computes in JavaScript,
 * bit for bit: Math.imul, mix32 and randomIndex on LuaJIT's 32-bit bit
 * operations and doubles, and formatTileIndex.
 */
const LUA_HELPERS = `local bit = require("bit")
local band, bxor, rshift, tobit = bit.band, bit.bxor, bit.rshift, bit.tobit
local concat, format, floor, rep = table.concat, string.format, math.floor, string.rep

-- x * y modulo 2^32 as a signed 32-bit integer, as JavaScript's Math.imul.
-- The 16-bit halves keep every product below 2^51, where doubles are exact.
local function imul(x, y)
  local xlo, ylo = band(x, 0xffff), band(y, 0xffff)
  local cross = tobit(rshift(x, 16) * ylo + xlo * rshift(y, 16))
  return tobit(xlo * ylo + cross * 65536)
end

local function mix32(n)
  local z = tobit(n + 0x9e3779b9)
  z = imul(bxor(z, rshift(z, 16)), 0x85ebca6b)
  z = imul(bxor(z, rshift(z, 13)), 0xc2b2ae35)
  z = bxor(z, rshift(z, 16))
  if z < 0 then z = z + 4294967296 end
  return z
end

local function random_below(n, below)
  return floor(mix32(n) / 4294967296 * below)
end

local function tile_index(value)
  local digits = format("%.0f", value)
  digits = rep("0", (3 - #digits % 3) % 3) .. digits
  local groups = {}
  for i = 1, #digits - 3, 3 do groups[#groups + 1] = "x" .. digits:sub(i, i + 2) end
  groups[#groups + 1] = digits:sub(-3)
  return concat(groups, "/")
end
`;

/** Returns the Lua of the thread bookkeeping, request() and done(), which follow the render functions. */
function luaRunner(hasBody: boolean): string {
  const send = hasBody
    ? `  local content = {}
  render_body(n, content)
  content = concat(content)
  b[#b + 1] = HEAD
  b[#b + 1] = "Content-Length: " .. #content .. "\\r\\n\\r\\n"
  b[#b + 1] = content`
    : `  b[#b + 1] = HEAD .. "\\r\\n"`;
  return `
-- In the main state: the threads, for done(). In each thread's state:
-- its index and the number of requests it has written.
threads = {}
thread_index = 0
sent = 0
local skip_next = false

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_index", #threads - 1)
end

function init(args)
  -- After init(), wrk 4.1.0 calls request() once on thread 0 to check that
  -- the request parses, and does not send it: that call is not counted.
  skip_next = thread_index == 0
end

function request()
  local n = FIRST + thread_index + THREADS * sent
  if skip_next then skip_next = false else sent = sent + 1 end
  local b = { METHOD }
  render_path(n, b)
${send}
  return concat(b)
end

function done(summary, latency, requests)
  local counts = {}
  for i, thread in ipairs(threads) do counts[i] = format("%.0f", thread:get("sent")) end
  local e = summary.errors
  io.write(RESULT_MARK, format(
    '{"durationUs":%.0f,"requests":%.0f,"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f},"latencyUs":{"p50":%.0f,"p99":%.0f,"max":%.0f},"sent":[%s]}\\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, concat(counts, ",")))
  io.stdout:flush()
  -- Exit only once the load generator has read this process's CPU time and
  -- closed standard input.
  io.read("*l")
end
`;
}

export interface WrkScriptOptions {
  /** Host header: host and port, such as 127.0.0.1:8080. */
  host: string;
  /** Request number of thread 0's first request. */
  first: number;
  /** wrk threads; thread t sends requests first + t, first + t + threads, ... */
  threads: number;
}

/** Returns a wrk Lua script that sends the template's requests, numbered from `options.first`. */
export function wrkScript(template: RequestTemplate, options: WrkScriptOptions): string {
  const compiler = new PartsCompiler();
  const path = compiler.compile(template.path, 'n', 0, '  ');
  const body = template.body === undefined ? [] : compiler.compile(template.body, 'n', 0, '  ');
  const headers = Object.entries(template.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const picks = compiler.picks.map((pick) => `  { ${pick.map(luaString).join(', ')} },`);
  return [
    '-- Generated from a request template by bench/wrk.ts.',
    LUA_HELPERS,
    `local RESULT_MARK = ${luaString(RESULT_MARK)}`,
    `local FIRST = ${options.first}`,
    `local THREADS = ${options.threads}`,
    `local METHOD = ${luaString(`${template.method} `)}`,
    `local HEAD = ${luaString(` HTTP/1.1\r\nHost: ${options.host}\r\n${headers}`)}`,
    'local PICKS = {',
    ...picks,
    '}',
    '',
    'local function render_path(n, b)',
    ...path,
    'end',
    '',
    'local function render_body(n, b)',
    ...body,
    'end',
    luaRunner(template.body !== undefined),
  ].join('\n');
}

/** The result line that done() prints, with times in microseconds. */
export interface WrkResult {
  durationUs: number;
  /** Responses read, of any status. */
  requests: number;
  /** Socket errors, responses with a status above 399, and responses slower than the timeout. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /**
   * Percentiles and maximum of wrk's latency histogram. NOTE: wrk 4.1.0
   * corrects the histogram for coordinated omission before done() reads it
   * (stats_correct in wrk.c). Each response slower than twice the mean
   * interval between requests on a connection adds samples below it. So
   * p50 and p99 can be higher than the percentiles of the measured latencies.
   */
  latencyUs: { p50: number; p99: number; max: number };
  /** Requests written, by thread. */
  sent: number[];
}

export interface WrkRunOptions {
  /** Base URL of the server; loopback only, which the caller checks. */
  url: URL;
  template: RequestTemplate;
  connections: number;
  threads: number;
  /** Duration in whole seconds, as wrk's -d takes it. */
  seconds: number;
  /** Request number of the first request. */
  first: number;
  /** Called with wrk's process ID right after it starts. */
  onStart?: (pid: number) => void;
  /** Called with wrk's process ID after the run, while wrk waits to exit. */
  onEnd?: (pid: number) => void;
}

export interface WrkRun extends WrkResult {
  /** Requests written in total. */
  sentTotal: number;
  /** The first request number that no thread used. */
  next: number;
}

/** Runs wrk once on the template and returns what its done() printed. */
export async function runWrk(options: WrkRunOptions): Promise<WrkRun> {
  const wrk = findWrk();
  if (wrk === undefined) throw new Error('wrk is not on PATH: install it (apt-get install wrk)');
  const dir = makeTempDir('declog-wrk-');
  try {
    const script = join(dir, 'load.lua');
    const { host } = options.url;
    writeFileSync(script, wrkScript(options.template, { ...options, host }));
    const args = [
      ...['-t', String(options.threads), '-c', String(options.connections)],
      ...['-d', `${options.seconds}s`, '--timeout', `${TIMEOUT_SECONDS}s`, '-s', script],
      options.url.origin,
    ];
    const result = await runChild(wrk, args, options);
    const sentTotal = result.sent.reduce((sum, count) => sum + count, 0);
    const next = options.first + options.threads * Math.max(0, ...result.sent);
    return { ...result, sentTotal, next };
  } finally {
    removeTempDir(dir);
  }
}

/** Returns why a wrk run failed, or undefined if it printed its result and nothing on stderr. */
function failureOf(code: number | null, signal: string | null, result: unknown, stderr: string) {
  if (signal !== null) return `wrk was killed by ${signal}`;
  if (code !== 0) return `wrk exited with code ${code}`;
  if (result === undefined) return 'wrk printed no result line: the script did not run done()';
  if (stderr.trim() !== '') return 'wrk wrote to stderr';
  return undefined;
}

/** Runs wrk and resolves with the result line, or rejects with its output. */
function runChild(wrk: string, args: string[], options: WrkRunOptions): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(child);
    let result: WrkResult | undefined;
    let endError: unknown;
    let output = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // wrk may exit before standard input is closed, when its run fails.
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), options.seconds * 1000 + EXIT_GRACE_MS);
    child.once('spawn', () => options.onStart?.(child.pid!));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith(RESULT_MARK)) {
        output += `${line}\n`;
        return;
      }
      try {
        result = JSON.parse(line.slice(RESULT_MARK.length)) as WrkResult;
        options.onEnd?.(child.pid!);
      } catch (err) {
        endError = err;
      } finally {
        child.stdin.end();
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${wrk}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (endError !== undefined) {
        reject(endError);
        return;
      }
      const failure = failureOf(code, signal, result, stderr);
      if (failure !== undefined || result === undefined) {
        const printed = `${output}${stderr}`.trim();
        reject(new Error(`${failure} (wrk ${args.join(' ')}):\n${printed}`));
        return;
      }
      resolve(result);
    });
  });
}
