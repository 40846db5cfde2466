/**
 * declog export: writes a slice of the log that verifies offline, as CBOR:
 * the decisions matching the filters, each with its inclusion proof, or with
 * --range A..B every entry of [A, B) with a proof that none is left out.
 */
import { writeFileSync } from 'node:fs';
import { exportFilter, exportRange } from '../../src/audit/export.js';
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { DeclogClient, type DecisionQuery } from '../../src/client.js';
import { parseDecimal } from '../../src/encoding.js';
import { UsageError } from '../../src/errors.js';
import { ledgerUrl, out, outJson, usage, verifierKey } from '../options.js';
import { parseTime } from './search.js';

export interface ExportOptions {
  vkey?: string;
  output?: string;
  range?: string;
  kid?: string;
  iss?: string;
  aud?: string;
  keyDomain?: string;
  tenant?: string;
  rp?: string;
  decision?: 'accept' | 'reject';
  since?: string;
  until?: string;
  json?: boolean;
}

/** Parses A..B into [A, B). */
export function parseRange(text: string): { start: number; end: number } {
  const parts = text.split('..');
  if (parts.length !== 2) throw new UsageError(`--range ${text}: expected A..B, such as 100..200`);
  const [start, end] = parts.map((p) => usage(() => parseDecimal(p, '--range bound'))) as [
    number,
    number,
  ];
  if (start >= end) throw new UsageError(`--range ${text}: A must be below B`);
  return { start, end };
}

function query(opts: ExportOptions): DecisionQuery {
  const q: DecisionQuery = {
    kid: opts.kid,
    iss: opts.iss,
    aud: opts.aud,
    key_domain: opts.keyDomain,
    tenant: opts.tenant,
    rp: opts.rp,
    decision: opts.decision,
    limit: 1000,
  };
  if (opts.since !== undefined) q.since = parseTime(opts.since, '--since');
  if (opts.until !== undefined) q.until = parseTime(opts.until, '--until');
  return q;
}

function hasFilter(q: DecisionQuery): boolean {
  return Object.entries(q).some(([k, v]) => k !== 'limit' && v !== undefined);
}

/** declog export [URL] --vkey K [filters | --range A..B] -o FILE */
export async function exportCommand(url: string | undefined, opts: ExportOptions): Promise<void> {
  if (!opts.output) throw new UsageError('this command needs -o FILE (the bundle to write)');
  const key = verifierKey(opts.vkey);
  const base = ledgerUrl(url);
  const client = usage(() => new DeclogClient({ url: base, verifierKey: key }));
  const q = query(opts);
  let bytes: Uint8Array;
  if (opts.range !== undefined) {
    if (hasFilter(q)) throw new UsageError('--range exports every entry: give no filters with it');
    const { start, end } = parseRange(opts.range);
    const fetcher = usage(() => new LogFetcher({ url: base }));
    bytes = await usage(() => exportRange(client, fetcher, key, start, end));
  } else {
    const fetcher = usage(() => new LogFetcher({ url: base }));
    bytes = await exportFilter(client, fetcher, key, q);
  }
  writeFileSync(opts.output, bytes);
  const size = client.latest?.size;
  if (opts.json) return outJson({ file: opts.output, bytes: bytes.length, tree_size: size });
  out(`wrote ${opts.output} (${bytes.length} bytes) against tree size ${size}`);
}
