/**
 * The write path of the SDK. record() queues a decision, in a durable
 * spool when one is configured. Batches go to the ledger by size or after a
 * linger time, and failed sends are retried with backoff. A decision counts
 * as recorded only once the sender verified its receipt (signature,
 * inclusion, consistency). Portable: the SQLite spool is loaded with a
 * dynamic import only when a spool path is given.
 */
import {
  DECISION_VERSION,
  decisionFromJSON,
  decisionToJSON,
  encodeDecision,
  type Decision,
  type DecisionInput,
} from '../decision.js';
import { DeclogError, InputError, NetworkError, StorageError } from '../errors.js';
import { backoffDelay, isRetryable, type BackoffOptions } from './retry.js';
import type { OpenSpool, Spool } from './spool-api.js';

/** Sends one batch and resolves with one verified receipt per decision, in order. */
export type SendBatch<R> = (decisions: DecisionInput[]) => Promise<R[]>;

/** Options of the batching, retrying and spooling write path. */
export interface RecorderOptions {
  /** Path of a SQLite spool file (Node.js only); without it, queued decisions live in memory. */
  spool?: string;
  /** Maximum number of decisions in the spool; past it record() rejects with 'spool_full' (default 100000). */
  spoolMaxEntries?: number;
  /** Decisions per append request (default 100, at most 10000). */
  batchSize?: number;
  /** Maximum time a decision waits for its batch to fill, in milliseconds (default 5). */
  lingerMs?: number;
  /** Append requests in flight at once (default 4). */
  maxInFlight?: number;
  /** Delays between attempts of a failed append (defaults 50 ms doubling up to 2000 ms). */
  backoff?: BackoffOptions;
}

/** A decision to record; the client sets `id` (a random UUID) when it is missing. */
export type RecordInput = Omit<DecisionInput, 'id'> & { id?: string };

/** Counters of the write path, for metrics. */
export interface RecorderMetrics {
  /** Decisions accepted by record() or recordThenAdmit(). */
  recorded: number;
  /** Decisions with a verified receipt. */
  receipts: number;
  /** Append attempts that failed and were scheduled again. */
  retries: number;
  /** Decisions rejected because the spool was full. */
  spoolFull: number;
  /** Decisions queued or in flight, without a receipt yet. */
  pending: number;
}

export type RecorderEvents<R> = {
  receipt: (receipt: R) => void;
  error: (error: Error) => void;
};

const DEFAULTS = { spoolMaxEntries: 100_000, batchSize: 100, lingerMs: 5, maxInFlight: 4 };
const MAX_BATCH = 10_000;
/** Module specifier of the SQLite spool, kept out of static imports so browsers never load it. */
const SPOOL_MODULE = './spool.js';
/** Validator name used to check a decision locally; the ledger stamps the real one. */
const UNSTAMPED = 'unstamped';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejected decision without an awaiting caller must not become an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface Pending<R> {
  decision: DecisionInput;
  /** Row number in the spool, when spooled. */
  seq?: number;
  done: Deferred<R>;
}

function checkWhole(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InputError(
      'invalid_argument',
      `${name} ${value} is not a whole number from ${min} to ${max}`,
    );
  }
}

function resolveOptions(options: RecorderOptions) {
  const o = {
    ...options,
    spoolMaxEntries: options.spoolMaxEntries ?? DEFAULTS.spoolMaxEntries,
    batchSize: options.batchSize ?? DEFAULTS.batchSize,
    lingerMs: options.lingerMs ?? DEFAULTS.lingerMs,
    maxInFlight: options.maxInFlight ?? DEFAULTS.maxInFlight,
  };
  checkWhole('spoolMaxEntries', o.spoolMaxEntries, 1);
  checkWhole('batchSize', o.batchSize, 1, MAX_BATCH);
  checkWhole('lingerMs', o.lingerMs, 0);
  checkWhole('maxInFlight', o.maxInFlight, 1);
  return o;
}

/** Checks a decision locally, sets its id, and returns it with its JSON text for the spool. */
function prepare(input: RecordInput): { decision: DecisionInput; body: string } {
  if (typeof input !== 'object' || input === null || 'validator' in input) {
    throw new InputError(
      'invalid_decision',
      'a decision must be an object without "validator", which the ledger sets',
    );
  }
  const id = input.id ?? crypto.randomUUID();
  const stamped = { ...input, id, v: DECISION_VERSION, validator: UNSTAMPED } as Decision;
  encodeDecision(stamped);
  const json = decisionToJSON(stamped);
  delete json['validator'];
  return { decision: { ...input, id }, body: JSON.stringify(json) };
}

/** Reads a spooled decision back; the spool holds only decisions prepare() accepted. */
function fromSpool(body: string): DecisionInput {
  const {
    validator: _stamp,
    v: _version,
    ...decision
  } = decisionFromJSON(JSON.parse(body), UNSTAMPED);
  return decision;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** The write path of one client. `R` is the receipt type the sender returns. */
export class Recorder<R> {
  private readonly options: ReturnType<typeof resolveOptions>;
  private readonly queue: Pending<R>[] = [];
  private readonly outstanding = new Set<Pending<R>>();
  private readonly listeners: { [E in keyof RecorderEvents<R>]: RecorderEvents<R>[E][] } = {
    receipt: [],
    error: [],
  };
  private readonly counters = { recorded: 0, receipts: 0, retries: 0, spoolFull: 0 };
  private readonly ready: Promise<Spool | undefined>;
  private spool: Spool | undefined;
  private inFlight = 0;
  private linger: ReturnType<typeof setTimeout> | undefined;
  /** The fatal error: a failed verification or a rejected batch. Once set, nothing more is sent. */
  private failure: Error | undefined;
  private closed = false;
  private stopped = false;
  /** Spool writes waiting for the next group commit. */
  private writes: { pending: Pending<R>; body: string; added: Deferred<void> }[] = [];

  constructor(
    private readonly send: SendBatch<R>,
    options: RecorderOptions = {},
  ) {
    this.options = resolveOptions(options);
    this.ready = options.spool === undefined ? Promise.resolve(undefined) : this.openSpool();
  }

  get metrics(): RecorderMetrics {
    return { ...this.counters, pending: this.outstanding.size };
  }

  on<E extends keyof RecorderEvents<R>>(event: E, listener: RecorderEvents<R>[E]): void {
    if (!(event in this.listeners)) {
      throw new InputError(
        'invalid_argument',
        `unknown event ${String(event)}: use receipt or error`,
      );
    }
    this.listeners[event].push(listener);
  }

  off<E extends keyof RecorderEvents<R>>(event: E, listener: RecorderEvents<R>[E]): void {
    const list = this.listeners[event] as RecorderEvents<R>[E][];
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  /** Queues a decision (spooled first when a spool is set) and resolves with its id. */
  async record(input: RecordInput): Promise<string> {
    const pending = await this.enqueue(input);
    this.pump(false);
    if (this.failure) throw this.failure;
    return pending.decision.id;
  }

  /**
   * Queues a decision, sends it at once, and resolves with its verified
   * receipt. Rejects with 'budget_exceeded' when no receipt came within
   * `budgetMs`: the caller must then deny its request. The decision stays
   * queued and is still sent.
   */
  async recordThenAdmit(input: RecordInput, budgetMs: number): Promise<R> {
    checkWhole('budgetMs', budgetMs, 1);
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overBudget = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(budgetError(budgetMs)), budgetMs);
    });
    try {
      const pending = await Promise.race([this.enqueue(input), overBudget]);
      if (this.failure) throw this.failure;
      this.pump(true);
      return await Promise.race([pending.done.promise, overBudget]);
    } catch (err) {
      if (err instanceof DeclogError && err.code === 'budget_exceeded') {
        const spent = Date.now() - started;
        throw budgetError(budgetMs, spent, err);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends everything queued and resolves once every decision recorded so far has a verified receipt. */
  async flush(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.commitWrites();
    if (this.failure) throw this.failure;
    const waiting = [...this.outstanding].map((p) => p.done.promise);
    this.pump(true);
    await Promise.all(waiting);
  }

  /**
   * Stops the write path. With `wait` (the default) it first flushes; without
   * it, queued decisions stay in the spool for the next start.
   */
  async close(options: { wait?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (options.wait ?? true) await this.flush();
    } finally {
      this.stop();
    }
  }

  private stop(): void {
    this.stopped = true;
    clearTimeout(this.linger);
    const why = new NetworkError(
      'network_error',
      `client closed with ${this.outstanding.size} decisions without a receipt${this.spool ? '; they stay in the spool' : ''}`,
    );
    for (const p of this.outstanding) p.done.reject(why);
    this.outstanding.clear();
    this.spool?.close();
    this.spool = undefined;
  }

  private async openSpool(): Promise<Spool> {
    const path = this.options.spool!;
    try {
      const { openSpool } = (await import(SPOOL_MODULE)) as { openSpool: OpenSpool };
      const spool = openSpool(path, this.options.spoolMaxEntries);
      this.spool = spool;
      this.replay(spool);
      return spool;
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /** Queues what an earlier run spooled but never saw acknowledged. */
  private replay(spool: Spool): void {
    for (const row of spool.rows()) {
      const pending: Pending<R> = { decision: fromSpool(row.body), seq: row.seq, done: deferred() };
      this.outstanding.add(pending);
      this.queue.push(pending);
    }
    if (this.queue.length > 0) this.pump(true);
  }

  private async enqueue(input: RecordInput): Promise<Pending<R>> {
    if (this.closed)
      throw new InputError(
        'invalid_argument',
        'record() called after close(): create a new client',
      );
    const { decision, body } = prepare(input);
    const pending: Pending<R> = { decision, done: deferred() };
    const spool = await this.ready;
    if (spool) await this.spoolWrite(pending, body);
    this.counters.recorded++;
    this.outstanding.add(pending);
    this.queue.push(pending);
    return pending;
  }

  /** Adds one decision to the next group commit of the spool and waits for it. */
  private spoolWrite(pending: Pending<R>, body: string): Promise<void> {
    const added = deferred<void>();
    this.writes.push({ pending, body, added });
    if (this.writes.length === 1) queueMicrotask(() => void this.commitWrites());
    return added.promise;
  }

  /** Writes every waiting decision to the spool in one transaction (one fsync). */
  private async commitWrites(): Promise<void> {
    const writes = this.writes;
    this.writes = [];
    if (writes.length === 0) return;
    try {
      if (!this.spool) throw new StorageError('storage_failed', 'the spool is closed');
      const seqs = this.spool.add(writes.map((w) => w.body));
      writes.forEach((w, i) => this.settleWrite(w, seqs[i]));
    } catch (err) {
      for (const w of writes) w.added.reject(err);
    }
  }

  private settleWrite(w: (typeof this.writes)[number], seq: number | undefined): void {
    if (seq !== undefined) {
      w.pending.seq = seq;
      w.added.resolve();
      return;
    }
    this.counters.spoolFull++;
    const max = this.options.spoolMaxEntries;
    w.added.reject(
      new StorageError(
        'spool_full',
        `the spool ${this.options.spool} holds its maximum of ${max} decisions; decision ${w.pending.decision.id} was not recorded`,
      ),
    );
  }

  /** Starts sends: full batches, or everything queued when `force`; arms the linger timer otherwise. */
  private pump(force: boolean): void {
    if (this.failure || this.stopped) return;
    const size = this.options.batchSize;
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      if (!force && this.queue.length < size) break;
      void this.sendBatch(this.queue.splice(0, size));
    }
    if (this.queue.length > 0 && this.linger === undefined) {
      this.linger = setTimeout(() => {
        this.linger = undefined;
        this.pump(true);
      }, this.options.lingerMs);
    }
  }

  /** Sends one batch until it is acknowledged, retrying network failures and 5xx responses. */
  private async sendBatch(batch: Pending<R>[]): Promise<void> {
    this.inFlight++;
    try {
      for (let attempt = 0; !this.failure && !this.stopped; attempt++) {
        try {
          const receipts = await this.send(batch.map((p) => p.decision));
          this.acknowledge(batch, receipts);
          return;
        } catch (err) {
          if (!isRetryable(err)) return this.fail(err as Error);
          this.counters.retries++;
          this.emit('error', err as Error);
          await sleep(backoffDelay(attempt, this.options.backoff));
        }
      }
    } finally {
      this.inFlight--;
      this.pump(false);
    }
  }

  /** Removes acknowledged decisions from the spool, then settles and reports them. */
  private acknowledge(batch: Pending<R>[], receipts: R[]): void {
    const seqs = batch.flatMap((p) => (p.seq === undefined ? [] : [p.seq]));
    if (seqs.length > 0) this.spool?.remove(seqs);
    batch.forEach((p, i) => {
      this.outstanding.delete(p);
      const receipt = receipts[i]!;
      const logged = (receipt as { conflict?: { id: string } }).conflict;
      if (logged) {
        // An id reused with other content is this decision's error, not the ledger's:
        // it can never be logged, so it leaves the spool and the others go on.
        const err = new InputError(
          'duplicate_id',
          `decision ${p.decision.id} was not logged: entry ${(receipt as { index?: number }).index} already holds another decision with this id`,
        );
        p.done.reject(err);
        this.emit('error', err);
        return;
      }
      this.counters.receipts++;
      p.done.resolve(receipt);
      this.emit('receipt', receipt);
    });
  }

  /** Stops sending for good, because the ledger misbehaved or rejected a batch. Spooled decisions are kept. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    clearTimeout(this.linger);
    for (const p of this.outstanding) p.done.reject(err);
    this.emit('error', err);
  }

  private emit<E extends keyof RecorderEvents<R>>(
    event: E,
    value: Parameters<RecorderEvents<R>[E]>[0],
  ) {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (v: typeof value) => void)(value);
      } catch (err) {
        // A listener's bug surfaces in the listener's code, not in the write path.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

function budgetError(budgetMs: number, spentMs?: number, cause?: unknown): NetworkError {
  const spent = spentMs === undefined ? '' : ` (${spentMs} ms spent)`;
  return new NetworkError(
    'budget_exceeded',
    `no verified receipt within the budget of ${budgetMs} ms${spent}: deny the request; the decision stays queued`,
    { cause },
  );
}
