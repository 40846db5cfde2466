/**
 * The retry rules of the SDK: which failed appends are sent again, and the delay before each attempt.
 * Portable: no Node.js modules.
 */
import { NetworkError } from '../errors.js';

/** An HTTP error status from a ledger or proxy, without a declog error code the client recognizes. */
export class HttpStatusError extends NetworkError {
  constructor(
    /** The HTTP status received. */
    readonly status: number,
    message: string,
  ) {
    super('server_error', message);
  }
}

/**
 * Returns true for failures worth sending again: no response, a timeout or
 * an HTTP 5xx. A 4xx response or a verification failure is never retried,
 * because the same request would fail the same way, or the ledger misbehaves.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof HttpStatusError) return err.status >= 500;
  return err instanceof NetworkError && err.code !== 'budget_exceeded';
}

/** Delays between attempts: exponential from `baseMs` up to `maxMs`, with jitter. */
export interface BackoffOptions {
  /** Delay after the first failure, in milliseconds (default 50). */
  baseMs?: number;
  /** Maximum delay, in milliseconds (default 2000). */
  maxMs?: number;
}

/** Returns the delay before attempt `attempt + 1`, between half and all of the exponential step. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 50;
  const max = options.maxMs ?? 2000;
  const step = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (Math.random() * step) / 2);
}
