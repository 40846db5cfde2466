/**
 * Option parsing and output shared by the commands: defaults from the
 * environment, verifier keys given inline or as @FILE, strict numbers, and
 * the conversion of bad input into UsageError (exit code 2).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { parseDecimal } from '../src/encoding.js';
import { DeclogError, InputError, UsageError } from '../src/errors.js';
import { newVerifier } from '../src/note.js';

/** Ledger URL when neither --url nor DECLOG_URL is given. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Data folder when neither --data nor DECLOG_DATA is given. */
export const DEFAULT_DATA = './data';

/** Notice printed after every new token. */
export const TOKEN_SHOWN_ONCE =
  'The token is shown only this once and will not be shown again: store it now.';

/** Help text of --url, naming its default. */
export const URL_HELP = `ledger URL (default: $DECLOG_URL, else ${DEFAULT_URL})`;

/** Help text of --vkey. */
export const VKEY_HELP =
  "the log's verifier key <name>+<key ID>+<base64>, or @FILE to read it from a file such as @data/log.pub";

/** Returns --url, else DECLOG_URL, else the loopback default. */
export function ledgerUrl(url: string | undefined): string {
  return url ?? process.env['DECLOG_URL'] ?? DEFAULT_URL;
}

/** Help text of --store. */
export const STORE_HELP =
  'PostgreSQL URL of the log, postgres://user:password@host:port/database ' +
  '(default: $DECLOG_STORE, else the SQLite file in the data folder)';

/** Returns --store, else DECLOG_STORE, else undefined (the data folder's SQLite file). */
export function storeUrl(store: string | undefined): string | undefined {
  return store ?? (process.env['DECLOG_STORE'] || undefined);
}

/** Returns the default of --data: DECLOG_DATA, else ./data. */
export function defaultDataDir(): string {
  return process.env['DECLOG_DATA'] ?? DEFAULT_DATA;
}

/** Reads a whole input file, or throws UsageError naming it. */
export function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new UsageError(`cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Resolves --vkey, given as the key itself or as @FILE, and checks that the key decodes. */
export function verifierKey(value: string | undefined): string {
  if (value === undefined) throw new UsageError('this command needs --vkey (the log verifier key)');
  const key = value.startsWith('@')
    ? readInput(value.slice(1), 'verifier key file').toString('utf8').trim()
    : value;
  usage(() => newVerifier(key));
  return key;
}

/**
 * Runs `fn` (sync or async), turning its InputError or malformed-key error
 * into UsageError with the same message: bad arguments exit with code 2.
 */
export function usage<T>(fn: () => T): T {
  try {
    const result = fn();
    return result instanceof Promise ? (result.catch(asUsage) as T) : result;
  } catch (err) {
    return asUsage(err);
  }
}

function asUsage(err: unknown): never {
  const badKey = err instanceof DeclogError && err.code === 'malformed_key';
  if (err instanceof InputError || badKey) throw new UsageError(err.message, { cause: err });
  throw err;
}

/** Returns a commander argument parser of unsigned decimals of at least `min`. */
export function count(min = 0): (text: string) => number {
  return (text) => {
    let n: number;
    try {
      n = parseDecimal(text, 'number');
    } catch {
      throw new InvalidArgumentError('expected an unsigned decimal number.');
    }
    if (n < min) throw new InvalidArgumentError(`expected a number of at least ${min}.`);
    return n;
  };
}

/** Returns a commander argument parser that accepts one of `choices`. */
export function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}.`);
    }
    return text as T;
  };
}

/** Writes one line to stdout. */
export function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** Writes one line to stderr. */
export function note(line: string): void {
  process.stderr.write(line + '\n');
}

/** Writes a value as one JSON line to stdout. */
export function outJson(value: unknown): void {
  out(JSON.stringify(value));
}
