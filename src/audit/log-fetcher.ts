/**
 * Reads a log the way an auditor does: the signed checkpoint and entry
 * bundles of the static tile API (c2sp.org/tlog-tiles), and the JSON proof
 * endpoints. Nothing is verified here; callers check every byte against a
 * signed checkpoint. Every failure to get an answer is a NetworkError
 * naming the request.
 */
import { fromHex } from '../encoding.js';
import { InputError, NetworkError, NotFoundError, VerificationError } from '../errors.js';
import { HASH_SIZE } from '../hash.js';
import { decodeBundle, entriesPath } from '../tiles.js';

/** Default deadline of one request, in milliseconds. */
export const FETCH_TIMEOUT_MS = 30_000;

export interface LogFetcherOptions {
  /** Base URL of the log, such as http://127.0.0.1:8080. A path prefix is kept. */
  url: string;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** Deadline of each request in milliseconds (default 30000). */
  timeoutMs?: number;
}

/** A consistency proof as the log serves it, with the two checkpoints it names. */
export interface ServedConsistency {
  proof: Uint8Array[];
  /** The log's own signed checkpoint of the old size. */
  oldCheckpoint: string;
  checkpoint: string;
}

/** One log's read endpoints. */
export class LogFetcher {
  readonly base: URL;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: LogFetcherOptions) {
    this.base = parseBase(options.url);
    const f = options.fetch ?? globalThis.fetch;
    this.fetchFn = (input, init) => f.call(globalThis, input, init);
    this.timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new InputError('invalid_argument', `timeout ${options.timeoutMs} ms is not positive`);
    }
  }

  /** GET <prefix>/checkpoint: the signed checkpoint note as text. */
  async checkpoint(): Promise<string> {
    const bytes = await this.get('checkpoint');
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }

  /**
   * GET <prefix>/tile/entries/<N>[.p/<W>]: the `width` entries from index
   * 256N, decoded strictly (exactly `width` of them).
   */
  async entryBundle(index: number, width: number): Promise<Uint8Array[]> {
    const path = entriesPath(index, width);
    const bytes = await this.get(path);
    try {
      return decodeBundle(bytes, width);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new VerificationError('malformed_receipt', `GET /${path}: ${reason}`, { cause });
    }
  }

  /** GET /v1/proof/consistency?old=&new=: the proof and both signed checkpoints. */
  async consistency(oldSize: number, newSize: number): Promise<ServedConsistency> {
    const path = `v1/proof/consistency?old=${oldSize}&new=${newSize}`;
    const body = await this.getJson(path);
    return {
      proof: hexHashes(body['consistency_proof'], path),
      oldCheckpoint: text(body['old_checkpoint'], 'old_checkpoint', path),
      checkpoint: text(body['checkpoint'], 'checkpoint', path),
    };
  }

  /** GET /v1/proof/inclusion?index=&tree_size=: the proof hashes. */
  async inclusion(index: number, size: number): Promise<Uint8Array[]> {
    const path = `v1/proof/inclusion?index=${index}&tree_size=${size}`;
    const body = await this.getJson(path);
    return hexHashes(body['inclusion_proof'], path);
  }

  private async getJson(path: string): Promise<Record<string, unknown>> {
    const bytes = await this.get(path);
    try {
      const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        return value as Record<string, unknown>;
      }
    } catch {
      // Reported below.
    }
    throw new VerificationError('malformed_receipt', `GET /${path}: not a JSON object`);
  }

  private async get(path: string): Promise<Uint8Array> {
    const url = new URL(path, this.base);
    const where = `GET ${url.href}`;
    let response: Response;
    let body: ArrayBuffer;
    try {
      const signal = AbortSignal.timeout(this.timeoutMs);
      response = await this.fetchFn(url.href, { signal, redirect: 'error' });
      body = await response.arrayBuffer();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new NetworkError('network_error', `${where} failed: ${reason}`, { cause });
    }
    if (response.status === 404) {
      throw new NotFoundError('not_found', `${where} returned HTTP 404`);
    }
    if (response.status !== 200) {
      throw new NetworkError('server_error', `${where} returned HTTP ${response.status}`);
    }
    return new Uint8Array(body);
  }
}

function parseBase(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new InputError('invalid_argument', `invalid log URL ${JSON.stringify(text)}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError('invalid_argument', `log URL ${url.href} is not http or https`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function text(value: unknown, name: string, path: string): string {
  if (typeof value !== 'string') {
    throw new VerificationError('malformed_receipt', `GET /${path}: "${name}" is not a string`);
  }
  return value;
}

function hexHashes(value: unknown, path: string): Uint8Array[] {
  if (!Array.isArray(value)) {
    throw new VerificationError('malformed_receipt', `GET /${path}: proof is not an array`);
  }
  return value.map((h, i) => {
    if (typeof h !== 'string' || h.length !== 2 * HASH_SIZE) {
      throw new VerificationError(
        'malformed_receipt',
        `GET /${path}: proof hash ${i} is not 64 hex digits`,
      );
    }
    return fromHex(h, `proof hash ${i}`);
  });
}
