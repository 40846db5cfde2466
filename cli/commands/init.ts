/** declog init: creates a ledger (signing key, database, first validator token). */
import { join } from 'node:path';
import {
  FIRST_VALIDATOR,
  initDataDir,
  VERIFIER_KEY_FILE,
  type InitResult,
} from '../../src/data-dir.js';
import { UsageError } from '../../src/errors.js';
import { note, out, outJson, storeUrl, TOKEN_SHOWN_ONCE, usage } from '../options.js';

export interface InitOptions {
  data: string;
  origin: string;
  /** PostgreSQL URL of the log (default: DECLOG_STORE, else SQLite in `data`). */
  store?: string;
  json?: boolean;
}

/** Origin default: a scheme-less URL naming a log on this machine. */
export const DEFAULT_ORIGIN = 'localhost/declog';

/**
 * Creates a ledger: keys in `data`, the log in `data` or in the PostgreSQL
 * database `store`. The origin must be a scheme-less URL (c2sp.org/tlog-checkpoint).
 */
export async function createLedger(
  data: string,
  origin: string,
  store?: string,
): Promise<InitResult> {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(origin)) {
    throw new UsageError(
      `origin ${JSON.stringify(origin)} has a scheme: give a scheme-less URL such as example.com/log`,
    );
  }
  return usage(() => initDataDir(data, origin, store));
}

/** Prints what a new ledger's users need, the token last and once. */
export function printCreated(r: InitResult, data: string, print: (line: string) => void): void {
  print(`created a ledger in ${data}`);
  print(`origin        ${r.origin}`);
  print(`verifier key  ${r.verifierKey}  (also in ${join(data, VERIFIER_KEY_FILE)})`);
  print(`token         ${r.token}  (validator ${FIRST_VALIDATOR})`);
  print(TOKEN_SHOWN_ONCE);
}

/** declog init [--data DIR] [--origin NAME] [--store URL] [--json] */
export async function init(opts: InitOptions): Promise<void> {
  const r = await createLedger(opts.data, opts.origin, storeUrl(opts.store));
  if (!opts.json) return printCreated(r, opts.data, out);
  outJson({ origin: r.origin, verifier_key: r.verifierKey, token: r.token });
  note(TOKEN_SHOWN_ONCE);
}
