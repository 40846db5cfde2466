/**
 * The declog SDK: a client of the ledger's HTTP API that verifies every
 * response before returning it, and fails closed.
 *
 * - A checkpoint must carry the log key's signature and the log's origin
 *   (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), must not be smaller
 *   than the newest checkpoint this client verified before it asked
 *   ('rollback'), and must be consistent with it (RFC 9162 section 2.1.4,
 *   else 'inconsistent_checkpoints').
 * - An appended entry must be exactly the decision sent plus the validator
 *   the ledger stamped, SHA-256(0x00 || entry) must be its leaf hash
 *   ('entry_mismatch'), and that leaf must be included in the checkpoint
 *   (RFC 9162 section 2.1.3).
 *
 * Portable: the global fetch, AbortSignal and Uint8Array only, so it runs
 * in browsers as well as in Node.js.
 */
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import {
  DECISION_VERSION,
  decisionFromJSON,
  decisionToJSON,
  decodeDecision,
  encodeDecision,
  type Decision,
  type DecisionInput,
} from './decision.js';
import { bytesEqual, fromBase64, fromHex, toHex } from './encoding.js';
import {
  AuthError,
  DeclogError,
  ErrorCodes,
  InputError,
  NetworkError,
  NotFoundError,
  VerificationError,
} from './errors.js';
import { HASH_SIZE, leafHash } from './hash.js';
import { keyLabel, newVerifier, parseNote, type Note, type Verifier } from './note.js';
import { openCheckpointWithPolicy, type Policy } from './policy.js';
import { formatTlogProof } from './tlog-proof.js';
import {
  Recorder,
  type RecorderMetrics,
  type RecorderOptions,
  type RecordInput,
} from './client/recorder.js';
import { HttpStatusError } from './client/retry.js';
import { verifyConsistency, verifyInclusion } from './verify.js';

/** Default deadline of one request, body included, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Maximum length of a server error message copied into an error, in characters. */
const MAX_SERVER_MESSAGE = 500;

/** Options of a client that reads without verifying checkpoints. */
export interface DeclogReaderOptions {
  /** Base URL of the ledger, such as http://127.0.0.1:8080. */
  url: string;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** Deadline of each request, body included, in milliseconds (default 10000). */
  timeoutMs?: number;
}

/** Options of a verifying client; the RecorderOptions shape record() and recordThenAdmit(). */
export interface DeclogClientOptions extends DeclogReaderOptions, RecorderOptions {
  /** Bearer token of a validator, needed only by append. */
  token?: string;
  /** The log's verifier key, `<name>+<key ID>+<base64 key>` (c2sp.org/signed-note). */
  verifierKey: string;
  /** The log's origin line (default: the verifier key's name). */
  origin?: string;
  /**
   * A c2sp.org/tlog-policy: every checkpoint must also carry its witness
   * quorum, else 'quorum_not_met' naming the missing witnesses (default: none).
   */
  policy?: Policy;
}

/** A checkpoint whose signature, origin and consistency were verified. */
export interface VerifiedCheckpoint extends Checkpoint {
  /** The signed note exactly as received. */
  signed: string;
  note: Note;
}

/** Proof that one appended decision is in the log. */
export interface AppendReceipt {
  index: number;
  leafHash: Uint8Array;
  /** True when a decision with this validator and id was logged before. */
  duplicate: boolean;
  treeSize: number;
  inclusionProof: Uint8Array[];
  /** The entry's exact bytes: the canonical CBOR of `decision`. */
  entry: Uint8Array;
  decision: Decision;
  checkpoint: VerifiedCheckpoint;
  /**
   * Set when the ledger already held another decision with this validator and
   * id: the decision sent was not logged, and `index`, `leafHash` and the
   * proof are those of the logged one, which `conflict` holds.
   */
  conflict?: Decision;
}

/** A verified inclusion proof of a leaf in a checkpoint. */
export interface VerifiedInclusion {
  index: number;
  treeSize: number;
  leafHash: Uint8Array;
  inclusionProof: Uint8Array[];
  checkpoint: VerifiedCheckpoint;
}

/** A verified consistency proof between two checkpoints. */
export interface VerifiedConsistency {
  oldCheckpoint: VerifiedCheckpoint;
  checkpoint: VerifiedCheckpoint;
  consistencyProof: Uint8Array[];
}

/** One log entry whose bytes hash to its leaf hash and decode to its decision. */
export interface VerifiedEntry {
  index: number;
  leafHash: Uint8Array;
  decision: Decision;
  entry: Uint8Array;
}

/** A search of logged decisions. Text fields match exactly, and times are Unix milliseconds. */
export interface DecisionQuery {
  kid?: string;
  iss?: string;
  aud?: string;
  key_domain?: string;
  tenant?: string;
  rp?: string;
  decision?: 'accept' | 'reject';
  /** Earliest decision time, inclusive. */
  since?: number;
  /** Latest decision time, inclusive. */
  until?: number;
  /** Maximum number of results in one page. */
  limit?: number;
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** One search hit: the decision's canonical encoding hashes to `leafHash`. */
export interface DecisionHit {
  index: number;
  leafHash: Uint8Array;
  decision: Decision;
}

/** One page of search results. */
export interface SearchResult {
  /** The search index covers the entries below this tree size. */
  indexedSize: number;
  decisions: DecisionHit[];
  /** Cursor of the next page, to pass as `cursor`, or undefined on the last page. */
  nextCursor: string | undefined;
}

/** Two signed checkpoints that contradict each other: keep both as evidence. */
export class CheckpointConflictError extends VerificationError {
  constructor(
    code: 'rollback' | 'inconsistent_checkpoints',
    message: string,
    /** The checkpoint verified earlier. */
    readonly trusted: VerifiedCheckpoint,
    /** The checkpoint that contradicts it. */
    readonly received: VerifiedCheckpoint,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

// ---------------------------------------------------------------------------
// HTTP

type Json = Record<string, unknown>;
type Params = Record<string, string | number | undefined>;

/** Replaces control characters of server text before it reaches an error message. */
function clean(text: string): string {
  const flat = text.replace(/[\p{Cc}]/gu, '?');
  return flat.length > MAX_SERVER_MESSAGE ? `${flat.slice(0, MAX_SERVER_MESSAGE)}...` : flat;
}

function describeCause(cause: unknown): string {
  const parts: string[] = [];
  for (let c = cause, depth = 0; c instanceof Error && depth < 4; depth++) {
    const code = (c as { code?: unknown }).code;
    const text = c.message || (typeof code === 'string' ? code : c.name);
    if (!parts.includes(text)) parts.push(text);
    c = c.cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(cause);
}

function networkFailure(where: string, cause: unknown, timeoutMs: number): NetworkError {
  const name = cause instanceof Error ? cause.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new NetworkError('timeout', `${where} timed out after ${timeoutMs} ms`, { cause });
  }
  return new NetworkError('network_error', `${where} failed: ${describeCause(cause)}`, { cause });
}

function hasCode<T extends string>(codes: readonly T[], code: string): code is T {
  return (codes as readonly string[]).includes(code);
}

/** Maps the server's `{"error": {"code", "message"}}` to the error class that carries the code. */
function serverError(where: string, status: number, text: string): DeclogError {
  const body = parseJson(text);
  const error = body?.['error'] as Json | undefined;
  const code = error?.['code'];
  const message = error?.['message'];
  if (typeof code !== 'string' || typeof message !== 'string') {
    return new HttpStatusError(
      status,
      `${where} returned HTTP ${status} without a declog error body`,
    );
  }
  const full = `${where} returned HTTP ${status} ${clean(code)}: ${clean(message)}`;
  if (status < 500 && hasCode(ErrorCodes.input, code)) return new InputError(code, full);
  if (status < 500 && hasCode(ErrorCodes.auth, code)) return new AuthError(code, full);
  if (status < 500 && hasCode(ErrorCodes.notFound, code)) return new NotFoundError(code, full);
  return new HttpStatusError(status, full);
}

function parseJson(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Json)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Sends requests under a deadline and turns every failure into a typed error naming the URL. */
class Http {
  private readonly base: URL;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: DeclogReaderOptions) {
    this.base = parseBaseUrl(options.url);
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') {
      throw new InputError('invalid_argument', 'no fetch function: pass options.fetch');
    }
    this.fetchFn = (input, init) => f.call(globalThis, input, init);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new InputError(
        'invalid_argument',
        `timeoutMs ${options.timeoutMs} is not a positive whole number of milliseconds`,
      );
    }
  }

  async getText(path: string): Promise<{ where: string; text: string }> {
    const url = this.url(path);
    const text = await this.send('GET', url, { accept: 'text/plain' });
    return { where: `GET ${url.href}`, text };
  }

  async getJson(path: string, params: Params = {}): Promise<Reply> {
    const url = this.url(path, params);
    const text = await this.send('GET', url, { accept: 'application/json' });
    return Reply.parse(`GET ${url.href}`, text);
  }

  async postJson(path: string, body: unknown, token: string): Promise<Reply> {
    const url = this.url(path);
    const headers = {
      accept: 'application/json',
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    };
    const text = await this.send('POST', url, headers, JSON.stringify(body));
    return Reply.parse(`POST ${url.href}`, text);
  }

  private url(path: string, params: Params = {}): URL {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url;
  }

  /** Sends a request; a POST refused with not_sequencer is sent once more, to the sequencer named. */
  private async send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body?: string,
    followed = false,
  ): Promise<string> {
    const where = `${method} ${url.href}`;
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url.href, { method, headers, body, signal, redirect: 'error' });
      text = await response.text();
    } catch (cause) {
      throw networkFailure(where, cause, this.timeoutMs);
    }
    const leader = method === 'POST' && !followed ? sequencerUrl(this.base, url, text) : undefined;
    if (response.status === 503 && leader) return this.send(method, leader, headers, body, true);
    if (response.status >= 400) throw serverError(where, response.status, text);
    if (response.status !== 200) {
      throw new HttpStatusError(
        response.status,
        `${where} returned HTTP ${response.status}, expected 200`,
      );
    }
    return text;
  }
}

/**
 * Returns where to resend a request that a server of a shared log refused
 * with not_sequencer: the same route below the `leader_url` it named, if
 * that is an http or https URL.
 */
function sequencerUrl(base: URL, url: URL, text: string): URL | undefined {
  const error = parseJson(text)?.['error'] as Json | undefined;
  const leader = error?.['leader_url'];
  if (error?.['code'] !== 'not_sequencer' || typeof leader !== 'string') return undefined;
  try {
    const route = url.href.slice(base.href.length);
    return new URL(route, parseBaseUrl(leader));
  } catch {
    return undefined;
  }
}

/** Parses the ledger URL. A path prefix is kept, so the routes resolve below it. */
function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new InputError('invalid_argument', `invalid ledger URL ${JSON.stringify(text)}`, {
      cause,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError('invalid_argument', `ledger URL ${url.href} is not http or https`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new InputError(
      'invalid_argument',
      `ledger URL ${url.origin}${url.pathname} must not carry credentials, a query or a fragment`,
    );
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

// ---------------------------------------------------------------------------
// Reading responses

/** A JSON response whose fields are read with their types checked. Errors name the request. */
class Reply {
  private constructor(
    readonly where: string,
    private readonly body: Json,
  ) {}

  static parse(where: string, text: string): Reply {
    const body = parseJson(text);
    if (!body) throw malformedReply(where, 'the response is not a JSON object');
    return new Reply(where, body);
  }

  child(value: unknown, name: string): Reply {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw malformedReply(this.where, `${name} is not an object`);
    }
    return new Reply(`${this.where} ${name}`, value as Json);
  }

  raw(name: string): unknown {
    return this.body[name];
  }

  uint(name: string): number {
    const value = this.body[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw this.wrong(name, 'an integer from 0 to 2^53-1');
    }
    return value;
  }

  text(name: string): string {
    const value = this.body[name];
    if (typeof value !== 'string') throw this.wrong(name, 'a string');
    return value;
  }

  bool(name: string): boolean {
    const value = this.body[name];
    if (typeof value !== 'boolean') throw this.wrong(name, 'true or false');
    return value;
  }

  list(name: string): unknown[] {
    const value = this.body[name];
    if (!Array.isArray(value)) throw this.wrong(name, 'an array');
    return value;
  }

  hash(name: string): Uint8Array {
    return this.hexHash(this.body[name], name);
  }

  hashes(name: string): Uint8Array[] {
    return this.list(name).map((h, i) => this.hexHash(h, `${name}[${i}]`));
  }

  /** Checks that a field repeats a value the client requested or already has. */
  expect(name: string, value: number): void {
    const got = this.uint(name);
    if (got !== value)
      throw malformedReply(this.where, `field "${name}" is ${got}, expected ${value}`);
  }

  private hexHash(value: unknown, name: string): Uint8Array {
    if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
      throw this.wrong(name, `${HASH_SIZE} bytes as 64 lowercase hex digits`);
    }
    return fromHex(value, name);
  }

  private wrong(name: string, rule: string): VerificationError {
    return malformedReply(this.where, `field "${name}" must be ${rule}`);
  }
}

function malformedReply(where: string, why: string): VerificationError {
  return new VerificationError('malformed_receipt', `${where}: ${why}`);
}

/** Runs a parser of server data, turning its InputError into 'malformed_receipt'. */
function fromServer<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) throw malformedReply(where, err.message);
    throw err;
  }
}

/** Parses a decision as the server returns it: JSON with the stamped validator. */
function decisionFromServer(where: string, value: unknown): Decision {
  return fromServer(where, () => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError('invalid_decision', 'decision is not an object');
    }
    const { validator, ...rest } = value as Json;
    if (typeof validator !== 'string') {
      throw new InputError('invalid_decision', 'field "validator" must be a string');
    }
    return decisionFromJSON(rest, validator);
  });
}

function checkLeaf(where: string, entry: Uint8Array, expected: Uint8Array, what: string): void {
  const actual = leafHash(entry);
  if (!bytesEqual(actual, expected)) {
    throw new VerificationError(
      'entry_mismatch',
      `${where}: leaf hash ${toHex(expected)} is not the hash of ${what} (${toHex(actual)})`,
    );
  }
}

function checkCount(n: number, what: string, min = 0): void {
  if (!Number.isSafeInteger(n) || n < min) {
    throw new InputError(
      'invalid_argument',
      `${what} ${n} is not an integer from ${min} to 2^53-1`,
    );
  }
}

// ---------------------------------------------------------------------------
// Clients

/**
 * Reads entries and searches decisions without a verifier key. Each entry's
 * bytes are checked against its leaf hash, but not its inclusion in a
 * checkpoint: use DeclogClient for that.
 *
 * @example
 * const reader = new DeclogReader({ url: 'http://127.0.0.1:8080' });
 * const { decision } = await reader.entry(0);
 * console.log(decision.kid, decision.decision);
 */
export class DeclogReader {
  private readonly http: Http;

  constructor(options: DeclogReaderOptions) {
    this.http = new Http(options);
  }

  /**
   * Fetches entry `index`: its bytes must hash to its leaf hash and decode
   * to the decision served beside them ('entry_mismatch' otherwise).
   *
   * @example
   * const { entry, leafHash } = await reader.entry(41);
   */
  entry(index: number): Promise<VerifiedEntry> {
    return readEntry(this.http, index);
  }

  /**
   * Searches logged decisions. Each hit's decision must encode to an entry
   * with its leaf hash ('entry_mismatch' otherwise).
   *
   * @example
   * const page = await reader.search({ key_domain: 'consumer', rp: 'mail', limit: 50 });
   * for (const hit of page.decisions) console.log(hit.index, hit.decision.aud);
   */
  search(query: DecisionQuery = {}): Promise<SearchResult> {
    return searchDecisions(this.http, query);
  }
}

async function readEntry(http: Http, index: number): Promise<VerifiedEntry> {
  checkCount(index, 'index');
  const reply = await http.getJson(`v1/entries/${index}`);
  reply.expect('index', index);
  const hash = reply.hash('leaf_hash');
  const entry = fromServer(reply.where, () => fromBase64(reply.text('entry'), 'entry'));
  checkLeaf(reply.where, entry, hash, `the entry bytes of index ${index}`);
  const decision = fromServer(reply.where, () => decodeDecision(entry));
  const served = decisionFromServer(reply.where, reply.raw('decision'));
  checkLeaf(reply.where, encodeDecision(served), hash, `the decision served for index ${index}`);
  return { index, leafHash: hash, decision, entry };
}

async function searchDecisions(http: Http, query: DecisionQuery): Promise<SearchResult> {
  if (query.limit !== undefined) checkCount(query.limit, 'limit', 1);
  const reply = await http.getJson('v1/decisions', { ...query });
  const indexedSize = reply.uint('indexed_size');
  const decisions = reply.list('decisions').map((value, i) => {
    return searchHit(reply.child(value, `decisions[${i}]`));
  });
  const cursor = reply.raw('next_cursor');
  if (cursor !== null && cursor !== undefined && typeof cursor !== 'string') {
    throw malformedReply(reply.where, 'field "next_cursor" must be a string or null');
  }
  return { indexedSize, decisions, nextCursor: cursor ?? undefined };
}

function searchHit(hit: Reply): DecisionHit {
  const index = hit.uint('index');
  const hash = hit.hash('leaf_hash');
  const decision = decisionFromServer(hit.where, hit.raw('decision'));
  checkLeaf(hit.where, encodeDecision(decision), hash, `the decision served for index ${index}`);
  return { index, leafHash: hash, decision };
}

/** Validator name used only to check a decision locally before the ledger stamps the real one. */
const UNSTAMPED = 'unstamped';

/** Checks a decision locally and returns its JSON body, without `validator`. */
function toWire(input: DecisionInput, i: number): Json {
  if (typeof input !== 'object' || input === null || 'validator' in input) {
    throw new InputError(
      'invalid_decision',
      `decision ${i}: must be an object without "validator", which the ledger sets`,
    );
  }
  const record = { ...input, v: DECISION_VERSION, validator: UNSTAMPED } as Decision;
  try {
    encodeDecision(record);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const code = err.code === 'entry_too_large' ? err.code : 'invalid_decision';
    throw new InputError(code, `decision ${i}: ${err.message}`, { cause: err });
  }
  const json = decisionToJSON(record);
  delete json['validator'];
  return json;
}

/**
 * A verifying client of one log. It remembers the newest checkpoint it
 * verified (`latest`) and checks every later one against it.
 *
 * @example
 * const client = new DeclogClient({
 *   url: 'http://127.0.0.1:8080',
 *   token: process.env.DECLOG_TOKEN,
 *   verifierKey: 'localhost/declog+1a2b3c4d+AR...',
 * });
 * const [receipt] = await client.append({
 *   id: '01J0000000000000000000000',
 *   time: Date.now(),
 *   decision: 'reject',
 *   reason: 'key_domain_mismatch',
 *   iss: 'https://login.example.com',
 *   aud: 'mail',
 *   key_domain: 'consumer',
 *   kid: 'k1',
 *   rp: 'mail',
 * });
 * console.log(receipt.index, receipt.checkpoint.size);
 */
export class DeclogClient {
  private readonly http: Http;
  private readonly verifier: Verifier;
  private readonly origin: string;
  private readonly token: string | undefined;
  private readonly policy: Policy | undefined;
  private newest: VerifiedCheckpoint | undefined;
  /** Serializes updates of `newest`, so concurrent calls compare against one history. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The batching write path, built at construction so bad options fail there and a spool replays. */
  private writer: Recorder<AppendReceipt> | undefined;
  private readonly writerOptions: RecorderOptions;

  constructor(options: DeclogClientOptions) {
    this.http = new Http(options);
    this.verifier = newVerifier(options.verifierKey);
    this.origin = options.origin ?? this.verifier.name;
    this.token = options.token;
    this.policy = options.policy;
    this.writerOptions = options;
    this.recorder();
  }

  /**
   * Records a decision without waiting for the ledger, and resolves with its
   * id (a random UUID unless `id` is set). With `spool`, the decision is on
   * disk when this resolves and leaves the spool only once its receipt is
   * verified. Batches go out by `batchSize` or after `lingerMs`; network
   * failures and 5xx responses are retried with backoff, with the same id, so
   * a retry is stored once. Receipts arrive as 'receipt' events; retried
   * failures and a fatal one (a receipt that does not verify, a rollback, a
   * 4xx answer) as 'error' events. After a fatal one nothing more is sent
   * and record() rejects with it.
   *
   * @example
   * const client = new DeclogClient({ url, token, verifierKey, spool: './declog-spool.db' });
   * client.on('error', (err) => log.warn({ err }, 'declog'));
   * const result = await gate.check(token, 'mail');
   * await client.record(result.decision);
   */
  record(decision: RecordInput): Promise<string> {
    return this.recorder().record(decision);
  }

  /**
   * Records a decision and resolves with its verified receipt, sending at
   * once. Fails closed: rejects with NetworkError 'budget_exceeded' when no
   * verified receipt arrived within `budgetMs`, and the caller must then
   * deny its request (the decision is still sent later).
   *
   * @example
   * try {
   *   await client.recordThenAdmit(result.decision, { budgetMs: 50 });
   * } catch {
   *   return deny(); // not durably sequenced in time
   * }
   */
  recordThenAdmit(decision: RecordInput, options: { budgetMs: number }): Promise<AppendReceipt> {
    return this.recorder().recordThenAdmit(decision, options.budgetMs);
  }

  /**
   * Resolves once every decision recorded so far has a verified receipt.
   *
   * @example
   * await client.flush();
   */
  flush(): Promise<void> {
    return this.writer?.flush() ?? Promise.resolve();
  }

  /**
   * Flushes, then closes the spool. With `{ wait: false }` it does not
   * flush: unsent decisions stay in the spool for the next start.
   *
   * @example
   * process.on('SIGTERM', () => void client.close());
   */
  close(options: { wait?: boolean } = {}): Promise<void> {
    return this.writer?.close(options) ?? Promise.resolve();
  }

  /**
   * Listens to verified receipts of recorded decisions, or to errors of the
   * write path.
   *
   * @example
   * client.on('receipt', (r) => metrics.observe(r.index));
   */
  on(event: 'receipt', listener: (receipt: AppendReceipt) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'receipt' | 'error', listener: (value: never) => void): this {
    this.recorder().on(event, listener as never);
    return this;
  }

  /** Removes a listener added with on(). */
  off(event: 'receipt' | 'error', listener: (value: never) => void): this {
    this.writer?.off(event, listener as never);
    return this;
  }

  /** Counters of the write path: recorded, receipts, retries, spoolFull, pending. */
  get metrics(): RecorderMetrics {
    return this.recorder().metrics;
  }

  private recorder(): Recorder<AppendReceipt> {
    this.writer ??= new Recorder((decisions) => this.append(decisions), this.writerOptions);
    return this.writer;
  }

  /** The newest checkpoint this client verified, if any. */
  get latest(): VerifiedCheckpoint | undefined {
    return this.newest;
  }

  /**
   * Appends decisions and resolves once each one is verified. The
   * checkpoint must carry the log's signature and origin. Each logged entry
   * must be exactly the decision sent plus the stamped validator, and its
   * inclusion proof must lead to the checkpoint's root. The checkpoint must
   * be consistent with the newest one verified before: a smaller one raises
   * 'rollback' and a contradicting one 'inconsistent_checkpoints'.
   *
   * @example
   * const receipts = await client.append([decisionA, decisionB]);
   * receipts.map((r) => r.index);
   */
  async append(decisions: DecisionInput | DecisionInput[]): Promise<AppendReceipt[]> {
    const inputs = Array.isArray(decisions) ? decisions : [decisions];
    if (inputs.length === 0) return [];
    const body = { decisions: inputs.map(toWire) };
    const floor = this.newest;
    const reply = await this.http.postJson('v1/decisions', body, this.requireToken());
    const checkpoint = this.open(reply.where, reply.text('checkpoint'), floor);
    reply.expect('tree_size', checkpoint.size);
    const validator = reply.text('validator');
    const entries = reply.list('entries');
    if (entries.length !== inputs.length) {
      const why = `${entries.length} entries for ${inputs.length} decisions sent`;
      throw malformedReply(reply.where, why);
    }
    const receipts = inputs.map((input, i) => {
      const entry = reply.child(entries[i], `entries[${i}]`);
      return checkReceipt(entry, input, validator, checkpoint);
    });
    for (const receipt of receipts) {
      if (receipt.conflict) await this.checkConflict(receipt, validator);
    }
    await this.adopt(checkpoint);
    return receipts;
  }

  /**
   * Confirms a duplicate whose logged entry differs from the decision sent:
   * the logged entry must carry the same validator and id, else the ledger
   * returned someone else's entry for a new decision ('entry_mismatch').
   */
  private async checkConflict(receipt: AppendReceipt, validator: string): Promise<void> {
    const sent = receipt.decision;
    const logged = await readEntry(this.http, receipt.index);
    const same = logged.decision.id === sent.id && logged.decision.validator === validator;
    if (!same || !bytesEqual(logged.leafHash, receipt.leafHash)) {
      throw new VerificationError(
        'entry_mismatch',
        `the ledger called decision ${sent.id} a duplicate of entry ${receipt.index}, which is decision ${logged.decision.id} of ${logged.decision.validator}`,
      );
    }
    receipt.conflict = logged.decision;
  }

  /**
   * Fetches the latest checkpoint and verifies its signature, origin and
   * consistency with the newest one verified before.
   *
   * @example
   * const { size, root } = await client.checkpoint();
   */
  async checkpoint(): Promise<VerifiedCheckpoint> {
    const floor = this.newest;
    const { where, text } = await this.http.getText('checkpoint');
    const checkpoint = this.open(where, text, floor);
    await this.adopt(checkpoint);
    return checkpoint;
  }

  /**
   * Fetches and verifies the inclusion proof of entry `index` in the
   * checkpoint of `treeSize` (default: the latest). The checkpoint is
   * checked like the one of `checkpoint()`.
   *
   * @example
   * const proof = await client.inclusionProof(41);
   * const offline = toTlogProof(proof); // c2sp.org/tlog-proof text
   */
  async inclusionProof(index: number, treeSize?: number): Promise<VerifiedInclusion> {
    checkCount(index, 'index');
    if (treeSize !== undefined) checkCount(treeSize, 'tree size', 1);
    const floor = treeSize === undefined ? this.newest : undefined;
    const params = { index, tree_size: treeSize };
    const reply = await this.http.getJson('v1/proof/inclusion', params);
    const checkpoint = this.open(reply.where, reply.text('checkpoint'), floor);
    if (treeSize !== undefined) reply.expect('tree_size', treeSize);
    reply.expect('tree_size', checkpoint.size);
    reply.expect('index', index);
    const hash = reply.hash('leaf_hash');
    const proof = reply.hashes('inclusion_proof');
    verifyInclusion(hash, index, checkpoint.size, proof, checkpoint.root);
    await this.adopt(checkpoint);
    return { index, treeSize: checkpoint.size, leafHash: hash, inclusionProof: proof, checkpoint };
  }

  /**
   * Fetches and verifies the consistency proof from the checkpoint of
   * `oldSize` to the one of `newSize` (default: the latest), both signed by
   * the log.
   *
   * @example
   * const { checkpoint } = await client.consistencyProof(10);
   */
  async consistencyProof(oldSize: number, newSize?: number): Promise<VerifiedConsistency> {
    checkCount(oldSize, 'old tree size', 1);
    if (newSize !== undefined) checkCount(newSize, 'new tree size', 1);
    const floor = newSize === undefined ? this.newest : undefined;
    const reply = await this.http.getJson('v1/proof/consistency', { old: oldSize, new: newSize });
    const checkpoint = this.open(reply.where, reply.text('checkpoint'), floor);
    const oldCheckpoint = this.open(reply.where, reply.text('old_checkpoint'));
    reply.expect('old_size', oldSize);
    if (newSize !== undefined) reply.expect('tree_size', newSize);
    reply.expect('tree_size', checkpoint.size);
    if (oldCheckpoint.size !== oldSize) {
      throw malformedReply(reply.where, `old checkpoint has size ${oldCheckpoint.size}`);
    }
    const proof = reply.hashes('consistency_proof');
    checkConsistent(oldCheckpoint, checkpoint, proof, oldCheckpoint);
    await this.adopt(checkpoint);
    return { oldCheckpoint, checkpoint, consistencyProof: proof };
  }

  /** Fetches entry `index`, checked as DeclogReader.entry checks it. */
  entry(index: number): Promise<VerifiedEntry> {
    return readEntry(this.http, index);
  }

  /** Searches logged decisions, checked as DeclogReader.search checks them. */
  search(query: DecisionQuery = {}): Promise<SearchResult> {
    return searchDecisions(this.http, query);
  }

  private requireToken(): string {
    if (!this.token) {
      throw new AuthError('missing_token', 'appending needs a validator token: set options.token');
    }
    return this.token;
  }

  /** Opens a signed checkpoint of this log and rejects one smaller than `floor`. */
  private open(where: string, signed: string, floor?: VerifiedCheckpoint): VerifiedCheckpoint {
    const opened = openCheckpoint(signed, this.verifier, { origin: this.origin });
    if (this.policy) checkWitnessed(where, signed, this.policy, this.verifier);
    const checkpoint = { ...opened.checkpoint, signed, note: opened.note };
    if (floor && checkpoint.size < floor.size) {
      const why = `${where}: checkpoint of tree size ${checkpoint.size} is older than tree size ${floor.size}, verified before`;
      throw new CheckpointConflictError('rollback', why, floor, checkpoint);
    }
    return checkpoint;
  }

  /** Makes `checkpoint` the newest one after proving it consistent with the current newest. */
  private adopt(checkpoint: VerifiedCheckpoint): Promise<void> {
    const run = this.queue.then(() => this.reconcile(checkpoint));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reconcile(checkpoint: VerifiedCheckpoint): Promise<void> {
    const known = this.newest;
    if (!known || known.size === 0) {
      this.newest = checkpoint;
      return;
    }
    const [older, newer] = checkpoint.size < known.size ? [checkpoint, known] : [known, checkpoint];
    const proof =
      older.size === 0 || older.size === newer.size
        ? []
        : await this.fetchConsistency(older.size, newer.size);
    checkConsistent(older, newer, proof, known);
    if (newer === checkpoint) this.newest = checkpoint;
  }

  private async fetchConsistency(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    const reply = await this.http.getJson('v1/proof/consistency', { old: oldSize, new: newSize });
    reply.expect('old_size', oldSize);
    reply.expect('tree_size', newSize);
    return reply.hashes('consistency_proof');
  }
}

/**
 * Checks that a checkpoint carries the witness quorum of `policy`
 * (c2sp.org/tlog-policy). The log key replaces the policy's log lines
 * when the policy names no key for this origin.
 */
function checkWitnessed(where: string, signed: string, policy: Policy, log: Verifier): void {
  const named = policy.logs.some((l) => l.verifier.name === log.name);
  const withLog = named ? policy : { ...policy, logs: [{ verifier: log, vkey: keyLabel(log) }] };
  try {
    openCheckpointWithPolicy(signed, withLog);
  } catch (err) {
    if (!(err instanceof VerificationError) || err.code !== 'quorum_not_met') throw err;
    const present = new Set(parseNote(signed).sigs.map(keyLabel));
    const missing = [...policy.witnesses]
      .filter(([, w]) => !present.has(keyLabel(w.verifier)))
      .map(([name]) => name);
    const why = `${where}: checkpoint lacks the witness quorum ${policy.quorum}: missing cosignatures of [${missing.join(', ')}]`;
    throw new VerificationError('quorum_not_met', why, { cause: err });
  }
}

/** Checks one entry of an append response against the decision sent. */
function checkReceipt(
  reply: Reply,
  input: DecisionInput,
  validator: string,
  checkpoint: VerifiedCheckpoint,
): AppendReceipt {
  const index = reply.uint('index');
  const hash = reply.hash('leaf_hash');
  const duplicate = reply.bool('duplicate');
  const proof = reply.hashes('inclusion_proof');
  const stamped = { ...input, v: DECISION_VERSION, validator } as Decision;
  const entry = fromServer(reply.where, () => encodeDecision(stamped));
  // A duplicate whose logged entry differs is an id reused with other content;
  // append() confirms it from the logged entry before reporting it.
  const conflict = duplicate && !bytesEqual(leafHash(entry), hash);
  if (!conflict)
    checkLeaf(reply.where, entry, hash, `decision ${input.id} as sent with validator ${validator}`);
  verifyInclusion(hash, index, checkpoint.size, proof, checkpoint.root);
  const decision = decodeDecision(entry);
  return {
    index,
    leafHash: hash,
    duplicate,
    treeSize: checkpoint.size,
    inclusionProof: proof,
    entry,
    decision,
    checkpoint,
    ...(conflict ? { conflict: decision } : {}),
  };
}

/**
 * Checks that `newer` extends `older` (RFC 9162 section 2.1.4.2). A proof
 * that yields another root makes the pair 'inconsistent_checkpoints'.
 */
function checkConsistent(
  older: VerifiedCheckpoint,
  newer: VerifiedCheckpoint,
  proof: Uint8Array[],
  trusted: VerifiedCheckpoint,
): void {
  if (older.size === 0) return;
  try {
    verifyConsistency(older.size, newer.size, proof, older.root, newer.root);
  } catch (err) {
    if (!(err instanceof VerificationError) || err.code !== 'root_mismatch') throw err;
    const received = trusted === older ? newer : older;
    const why = `checkpoints of tree sizes ${older.size} (root ${toHex(older.root)}) and ${newer.size} (root ${toHex(newer.root)}) are inconsistent: ${err.message}`;
    throw new CheckpointConflictError('inconsistent_checkpoints', why, trusted, received, {
      cause: err,
    });
  }
}

/**
 * Formats a receipt or verified inclusion proof as a c2sp.org/tlog-proof
 * text, which verifyTlogProof checks offline with the entry's bytes.
 *
 * @example
 * const [receipt] = await client.append(decision);
 * const text = toTlogProof(receipt);
 * verifyTlogProof(text, receipt.entry, newVerifier(verifierKey));
 */
export function toTlogProof(receipt: {
  index: number;
  inclusionProof: Uint8Array[];
  checkpoint: VerifiedCheckpoint;
}): string {
  return formatTlogProof({
    index: receipt.index,
    proof: receipt.inclusionProof,
    checkpoint: receipt.checkpoint.signed,
  });
}
