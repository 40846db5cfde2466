/**
 * Publication of witnessed checkpoints (c2sp.org/tlog-witness,
 * c2sp.org/tlog-cosignature). After each commit the ledger's newest signed
 * checkpoint is sent to every witness of the policy, with a consistency
 * proof from the size each witness last cosigned. A checkpoint is published
 * only once the witnesses whose cosignatures verified satisfy the policy's
 * quorum: the published note is the log's note with their cosignature lines
 * after the log's own signature. It is stored (store meta) before it is
 * served, so a restart serves it at once.
 *
 * All witnesses are asked about the same checkpoint in one round, so that
 * their cosignatures can meet in one note. A witness that is down or
 * refuses is logged, counted by error code, and retried with backoff; it
 * delays publication and never changes what the log signs.
 */
import type { Logger } from 'pino';
import { parseCheckpoint } from './checkpoint.js';
import type { CosignatureVerifier } from './cosignature.js';
import { parseDecimal } from './encoding.js';
import {
  DeclogError,
  InputError,
  NetworkError,
  NotFoundError,
  VerificationError,
} from './errors.js';
import { formatSignatureLine, keyLabel, openNote, parseNote } from './note.js';
import { quorumSatisfied, type Policy } from './policy.js';
import type { CheckpointRecord, Store } from './store/store.js';
import { formatAddCheckpoint, TLOG_SIZE_MEDIA_TYPE } from './witness.js';

/** Store meta key of the newest witnessed checkpoint note. */
export const WITNESSED_CHECKPOINT_KEY = 'witnessed_checkpoint';

/** Maximum witness response read, in bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Maximum 409 responses followed in one round before a witness counts as failed. */
const MAX_RESYNCS = 2;
/** How often the newest checkpoint is re-read when no commit was signalled, in ms. */
const POLL_MS = 1000;

/** The part of the ledger the publisher uses. */
export interface PublisherLedger {
  readonly store: Store;
  latestCheckpoint(): CheckpointRecord | undefined;
  consistencyProof(oldSize: number, newSize: number): Promise<{ proof: Uint8Array[] }>;
}

export interface PublisherOptions {
  policy: Policy;
  logger?: Logger;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** Deadline of one add-checkpoint request, in ms (default 5000). */
  timeoutMs?: number;
  /** First and longest retry delay after a failure, in ms (defaults 100 and 10000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A checkpoint note carrying the log's signature and a quorum of cosignatures. */
export interface WitnessedCheckpoint {
  size: number;
  root: Uint8Array;
  note: string;
}

/** One witness of the policy, as this publisher tracks it. */
interface Peer {
  name: string;
  verifier: CosignatureVerifier;
  url: string;
  /** The size this witness last cosigned, as far as known. */
  size: number;
  retryAt: number;
  backoffMs: number;
}

interface Waiter {
  size: number;
  resolve: (cp: WitnessedCheckpoint) => void;
}

function witnessedFromNote(note: string): WitnessedCheckpoint {
  const { size, root } = parseCheckpoint(parseNote(note).text);
  return { size, root, note };
}

/** Returns the error for a witness response other than 200 or a 409 with a size. */
function answerError(peer: Peer, status: number, body: string): DeclogError {
  const message = `witness ${peer.name} answered HTTP ${status}: ${clean(body)}`;
  if (status === 400) return new InputError('invalid_argument', message);
  if (status === 403) return new VerificationError('bad_signature', message);
  if (status === 404) return new NotFoundError('not_found', message);
  if (status === 409) return new VerificationError('tree_size_conflict', message);
  if (status === 422) return new VerificationError('invalid_proof', message);
  return new NetworkError('server_error', message);
}

/** Returns the start of a witness's text response, on one line without control characters. */
function clean(text: string): string {
  return text
    .slice(0, 200)
    .replace(/[\p{Cc}]+/gu, ' ')
    .trim();
}

function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class WitnessPublisher {
  private readonly peers: Peer[];
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private current: WitnessedCheckpoint | undefined;
  private waiters: Waiter[] = [];
  private wakeUp: (() => void) | undefined;
  private closed = false;
  private loop: Promise<void> = Promise.resolve();
  /** Failed requests by witness and error code, and cosignatures by witness. */
  private readonly failures = new Map<string, number>();
  private readonly cosigned = new Map<string, number>();

  private constructor(
    private readonly ledger: PublisherLedger,
    private readonly options: PublisherOptions,
  ) {
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.minBackoffMs = options.minBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    if (
      !(this.timeoutMs > 0) ||
      !(this.minBackoffMs > 0) ||
      this.maxBackoffMs < this.minBackoffMs
    ) {
      throw new RangeError(
        'timeoutMs and minBackoffMs must be positive, maxBackoffMs >= minBackoffMs',
      );
    }
    this.peers = [...options.policy.witnesses]
      .filter(([, w]) => w.url !== undefined)
      .map(([name, w]) => ({
        name,
        verifier: w.verifier,
        url: w.url!.replace(/\/+$/, ''),
        size: 0,
        retryAt: 0,
        backoffMs: this.minBackoffMs,
      }));
  }

  /**
   * Starts publishing for `ledger`. The newest witnessed checkpoint stored
   * by an earlier run is served at once.
   */
  static async start(
    ledger: PublisherLedger,
    options: PublisherOptions,
  ): Promise<WitnessPublisher> {
    const publisher = new WitnessPublisher(ledger, options);
    const stored = await ledger.store.getMeta(WITNESSED_CHECKPOINT_KEY);
    if (stored !== undefined) publisher.current = witnessedFromNote(stored);
    for (const peer of publisher.peers) peer.size = publisher.current?.size ?? 0;
    const unreachable = [...options.policy.witnesses.keys()].filter(
      (name) => !publisher.peers.some((p) => p.name === name),
    );
    if (unreachable.length > 0) {
      options.logger?.warn(
        { witnesses: unreachable },
        'policy witnesses without a URL are not asked',
      );
    }
    publisher.loop = publisher.run();
    return publisher;
  }

  /** The newest published (witnessed) checkpoint, if any. */
  published(): WitnessedCheckpoint | undefined {
    return this.current;
  }

  /** Signals a new commit: a round starts at once if none is running. */
  notify(): void {
    this.wakeUp?.();
  }

  /**
   * Resolves with the first published checkpoint of at least `size`, or
   * rejects with 'timeout' after `timeoutMs`.
   */
  waitFor(size: number, timeoutMs: number): Promise<WitnessedCheckpoint> {
    if (this.current && this.current.size >= size) return Promise.resolve(this.current);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { size, resolve };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const why = `tree size ${size} got no witness quorum within ${timeoutMs} ms; retry later`;
        reject(new NetworkError('timeout', why));
      }, timeoutMs);
      waiter.resolve = (cp) => {
        clearTimeout(timer);
        resolve(cp);
      };
      this.waiters.push(waiter);
    });
  }

  /** Counters in the Prometheus text format, labelled by witness and error code. */
  metrics(): string {
    const lines = [
      '# HELP declog_witness_failures_total Failed add-checkpoint requests, by witness and error code.',
      '# TYPE declog_witness_failures_total counter',
    ];
    for (const [key, n] of this.failures) {
      const [witness, code] = key.split('\n') as [string, string];
      lines.push(
        `declog_witness_failures_total{witness="${labelValue(witness)}",code="${code}"} ${n}`,
      );
    }
    lines.push(
      '# HELP declog_witness_cosignatures_total Valid cosignatures received, by witness.',
      '# TYPE declog_witness_cosignatures_total counter',
    );
    for (const [witness, n] of this.cosigned) {
      lines.push(`declog_witness_cosignatures_total{witness="${labelValue(witness)}"} ${n}`);
    }
    lines.push(
      '# HELP declog_witnessed_tree_size Tree size of the newest published checkpoint.',
      '# TYPE declog_witnessed_tree_size gauge',
      `declog_witnessed_tree_size ${this.current?.size ?? 0}`,
    );
    return lines.join('\n') + '\n';
  }

  /** Stops after the round in progress. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeUp?.();
    await this.loop;
  }

  /** Waits for notify(), close(), `ms` or the poll interval, whichever comes first. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(ms, POLL_MS));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    let backoff = this.minBackoffMs;
    while (!this.closed) {
      const target = this.ledger.latestCheckpoint();
      if (!target || (this.current && this.current.size >= target.size)) {
        await this.sleep(POLL_MS);
        continue;
      }
      const published = await this.round(target).catch((err) => {
        this.options.logger?.error({ err, tree_size: target.size }, 'witness round failed');
        return false;
      });
      if (published) {
        backoff = this.minBackoffMs;
      } else {
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
    }
  }

  /** Asks every witness to cosign `target` and publishes it if the quorum is met. */
  private async round(target: CheckpointRecord): Promise<boolean> {
    const lines = await Promise.all(this.peers.map((p) => this.ask(p, target)));
    const cosigners = this.peers.filter((_, i) => lines[i] !== undefined).map((p) => p.name);
    if (!quorumSatisfied(this.options.policy, new Set(cosigners))) {
      this.options.logger?.warn(
        { tree_size: target.size, witnesses: cosigners, quorum: this.options.policy.quorum },
        'checkpoint lacks its witness quorum',
      );
      return false;
    }
    await this.publish(target, lines.filter((l) => l !== undefined).join(''));
    return true;
  }

  private async publish(target: CheckpointRecord, cosignatures: string): Promise<void> {
    const note = target.note + cosignatures;
    // COMMIT point: the witnessed note is durable before anyone is shown it.
    await this.ledger.store.setMeta(WITNESSED_CHECKPOINT_KEY, note);
    const cp = { size: target.size, root: target.root, note };
    this.current = cp;
    this.options.logger?.info({ tree_size: cp.size }, 'published witnessed checkpoint');
    const ready = this.waiters.filter((w) => w.size <= cp.size);
    this.waiters = this.waiters.filter((w) => w.size > cp.size);
    for (const w of ready) w.resolve(cp);
  }

  /** Returns the witness's cosignature line for `target`, or undefined after a failure. */
  private async ask(peer: Peer, target: CheckpointRecord): Promise<string | undefined> {
    if (peer.retryAt > Date.now()) return undefined;
    try {
      for (let attempt = 0; attempt <= MAX_RESYNCS; attempt++) {
        const line = await this.submit(peer, target);
        if (line !== undefined) {
          peer.size = target.size;
          peer.backoffMs = this.minBackoffMs;
          this.cosigned.set(peer.name, (this.cosigned.get(peer.name) ?? 0) + 1);
          return line;
        }
      }
      throw new VerificationError(
        'tree_size_conflict',
        `witness ${peer.name} kept answering 409, last with size ${peer.size}`,
      );
    } catch (err) {
      this.failed(peer, err, target.size);
      return undefined;
    }
  }

  private failed(peer: Peer, err: unknown, size: number): void {
    const code = err instanceof DeclogError ? err.code : 'network_error';
    const key = `${peer.name}\n${code}`;
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    peer.retryAt = Date.now() + peer.backoffMs;
    peer.backoffMs = Math.min(peer.backoffMs * 2, this.maxBackoffMs);
    const message = err instanceof Error ? err.message : String(err);
    this.options.logger?.warn(
      { witness: peer.name, code, tree_size: size, err: message },
      'witness did not cosign',
    );
  }

  /**
   * Sends one add-checkpoint request. Returns the cosignature line, or
   * undefined after a 409 that taught the witness's size.
   */
  private async submit(peer: Peer, target: CheckpointRecord): Promise<string | undefined> {
    if (peer.size > target.size) {
      throw new VerificationError(
        'tree_size_conflict',
        `witness ${peer.name} cosigned size ${peer.size}, past this checkpoint of size ${target.size}`,
      );
    }
    const inner = peer.size > 0 && peer.size < target.size;
    const proof = inner ? (await this.ledger.consistencyProof(peer.size, target.size)).proof : [];
    const body = formatAddCheckpoint({ oldSize: peer.size, proof, checkpoint: target.note });
    const { status, type, text } = await this.post(`${peer.url}/add-checkpoint`, body);
    if (status === 409 && type === TLOG_SIZE_MEDIA_TYPE) {
      peer.size = parseDecimal(text.endsWith('\n') ? text.slice(0, -1) : text, 'witness size');
      return undefined;
    }
    if (status !== 200) throw answerError(peer, status, text);
    return this.cosignatureLine(peer, target, text);
  }

  /** Checks the witness's answer and returns its verified cosignature line. */
  private cosignatureLine(peer: Peer, target: CheckpointRecord, text: string): string {
    const note = openNote(target.note + text, [peer.verifier]);
    const sig = note.sigs.find((s) => keyLabel(s) === keyLabel(peer.verifier));
    if (!sig) {
      throw new VerificationError('no_known_signature', `witness ${peer.name} sent no cosignature`);
    }
    return formatSignatureLine(sig);
  }

  private async post(url: string, body: string) {
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
      text = await response.text();
    } catch (cause) {
      const name = cause instanceof Error ? cause.name : '';
      const code = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network_error';
      throw new NetworkError(code, `POST ${url} failed: ${(cause as Error).message}`, { cause });
    }
    if (text.length > MAX_ANSWER_BYTES) {
      throw new NetworkError('server_error', `POST ${url}: answer longer than ${MAX_ANSWER_BYTES}`);
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { status: response.status, type, text };
  }
}
