/**
 * declog append: sends the decisions of a JSON Lines file through the
 * verifying client, in batches, and prints a receipt per decision.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { DeclogClient, type AppendReceipt } from '../../src/client.js';
import { decisionFromJSON, type DecisionInput } from '../../src/decision.js';
import { toHex } from '../../src/encoding.js';
import { DeclogError, InputError, UsageError } from '../../src/errors.js';
import { ledgerUrl, note, out, outJson, usage, verifierKey } from '../options.js';

export interface AppendOptions {
  url?: string;
  token?: string;
  vkey?: string;
  batchSize: number;
  concurrency: number;
  json?: boolean;
  progress?: boolean;
}

interface Line {
  line: number;
  decision: DecisionInput;
}

/** Validator name used only to validate a line before the ledger stamps the real one. */
const UNSTAMPED = 'unstamped';

async function openInput(file: string): Promise<Readable> {
  if (file === '-') return process.stdin;
  try {
    return (await open(file)).createReadStream();
  } catch (cause) {
    throw new UsageError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
}

/** Yields each line with its 1-based number. CRLF line ends are accepted. */
async function* numberedLines(input: Readable): AsyncGenerator<[number, string]> {
  let n = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) yield [++n, text];
}

/** Parses one line: a JSON decision as the HTTP API takes it (token_hash in hex, no validator). */
function parseLine(text: string): DecisionInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InputError('malformed_json', `not JSON: ${(cause as Error).message}`);
  }
  const { validator: _stamped, ...input } = decisionFromJSON(value, UNSTAMPED);
  return input;
}

/** Prints entries/s on stderr about once a second. */
class Progress {
  private timer: NodeJS.Timeout | undefined;
  private last = { count: 0, ms: Date.now() };
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly count: () => number) {}

  start(): void {
    this.timer = setInterval(() => this.show(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.tty && this.last.count > 0) process.stderr.write('\n');
  }

  private show(): void {
    const now = { count: this.count(), ms: Date.now() };
    const rate = ((now.count - this.last.count) * 1000) / Math.max(1, now.ms - this.last.ms);
    this.last = now;
    const text = `appended ${now.count} decisions, ${Math.round(rate)} entries/s`;
    if (this.tty) process.stderr.write(`\r${text}\x1b[K`);
    else note(text);
  }
}

/**
 * Sends batches with up to `concurrency` requests in flight and reports the
 * receipts in file order. The client checks each response against the newest
 * checkpoint it had verified when the request left.
 */
class Appender {
  sent = 0;
  duplicates = 0;
  last: AppendReceipt | undefined;
  private batch: Line[] = [];
  private readonly window: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly client: DeclogClient,
    private readonly opts: AppendOptions,
  ) {}

  async add(line: Line): Promise<void> {
    this.batch.push(line);
    if (this.batch.length >= this.opts.batchSize) await this.send();
  }

  /** Sends the lines collected so far, then waits if the window is full. */
  async send(): Promise<void> {
    if (this.failure) throw this.failure.error;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const receipts = this.client.append(batch.map((l) => l.decision));
    receipts.catch(() => undefined); // awaited below, after the batches before it
    const previous = this.tail;
    this.tail = (async () => {
      await previous;
      (await receipts).forEach((r, i) => this.report(batch[i]!.line, r));
    })();
    // Stop sending after the first failure, which the next send or drain throws.
    this.tail.catch((err: unknown) => (this.failure ??= { error: err }));
    this.window.push(this.tail);
    if (this.window.length >= this.opts.concurrency) await this.window.shift();
  }

  /** Sends the rest and waits for every receipt. */
  async drain(): Promise<void> {
    await this.send();
    this.window.length = 0;
    await this.tail;
  }

  private report(line: number, r: AppendReceipt): void {
    this.sent++;
    if (r.duplicate) this.duplicates++;
    this.last = r;
    if (!this.opts.json) return;
    const leaf_hash = toHex(r.leafHash);
    outJson({ line, index: r.index, leaf_hash, duplicate: r.duplicate, tree_size: r.treeSize });
  }
}

function summary(a: Appender, file: string, startMs: number): string {
  const seconds = Math.max(0.001, (Date.now() - startMs) / 1000);
  const rate = Math.round(a.sent / seconds);
  const head = `appended ${a.sent} decisions from ${file} (${a.duplicates} duplicates) in ${seconds.toFixed(2)} s, ${rate} entries/s`;
  if (!a.last) return head;
  const cp = a.last.checkpoint;
  return `${head}; verified against checkpoint of tree size ${cp.size}, root ${toHex(cp.root)}`;
}

/** Reads every line into the appender. A bad line stops the run once the lines before it are sent. */
async function sendLines(a: Appender, file: string, input: Readable): Promise<void> {
  for await (const [line, text] of numberedLines(input)) {
    if (text.trim() === '') continue;
    let decision: DecisionInput;
    try {
      decision = parseLine(text);
    } catch (err) {
      if (!(err instanceof DeclogError)) throw err;
      await a.drain();
      const message = `${file} line ${line}: ${err.message}; the ${a.sent} decisions before it were appended`;
      throw new UsageError(message, { cause: err });
    }
    await a.add({ line, decision });
  }
  await a.drain();
}

/** declog append FILE.jsonl [--url URL] [--token T] --vkey K [--batch-size N] [--json] [--progress] */
export async function append(file: string, opts: AppendOptions): Promise<void> {
  const token = opts.token ?? process.env['DECLOG_TOKEN'];
  if (!token)
    throw new UsageError('append needs a validator token: pass --token or set DECLOG_TOKEN');
  const url = ledgerUrl(opts.url);
  const client = usage(() => new DeclogClient({ url, token, verifierKey: verifierKey(opts.vkey) }));
  const input = await openInput(file);
  const appender = new Appender(client, opts);
  const progress = new Progress(() => appender.sent);
  const showProgress = opts.progress === true || process.stderr.isTTY === true;
  const startMs = Date.now();
  if (showProgress) progress.start();
  try {
    await sendLines(appender, file, input);
  } finally {
    progress.stop();
  }
  (opts.json ? note : out)(summary(appender, file, startMs));
}
