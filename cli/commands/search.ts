/**
 * declog search: finds logged decisions by kid, issuer, audience, key
 * domain, tenant, relying party, verdict and time, as a table, JSON lines
 * or CSV, and reports up to which tree size the search index reaches.
 */
import { DeclogReader, type DecisionHit, type DecisionQuery } from '../../src/client.js';
import { decisionToJSON } from '../../src/decision.js';
import { toHex } from '../../src/encoding.js';
import { UsageError } from '../../src/errors.js';
import { parseRfc3339 } from '../../server/query.js';
import { ledgerUrl, note, out, outJson, usage } from '../options.js';

export const FORMATS = ['table', 'json', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

export interface SearchOptions {
  url?: string;
  kid?: string;
  iss?: string;
  aud?: string;
  keyDomain?: string;
  tenant?: string;
  rp?: string;
  decision?: 'accept' | 'reject';
  since?: string;
  until?: string;
  limit: number;
  all?: boolean;
  format: Format;
  json?: boolean;
}

/** Columns of the table and of the CSV header, in the decision table's order. */
const COLUMNS = [
  'index',
  'time',
  'decision',
  'reason',
  'iss',
  'aud',
  'key_domain',
  'kid',
  'alg',
  'tenant',
  'rp',
  'validator',
  'id',
  'policy',
  'token_hash',
  'leaf_hash',
] as const;

/** Columns shown in the table. CSV and JSON carry every field. */
const TABLE_COLUMNS = [
  'index',
  'time',
  'decision',
  'reason',
  'kid',
  'key_domain',
  'iss',
  'aud',
  'tenant',
  'rp',
];

/** Parses --since/--until: Unix milliseconds or an RFC 3339 date-time. */
export function parseTime(text: string, flag: string): number {
  if (/^(0|[1-9][0-9]*)$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  const ms = parseRfc3339(text);
  if (ms === undefined || ms < 0) {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)}: expected Unix milliseconds or an RFC 3339 date-time such as 2024-05-01T12:00:00Z`,
    );
  }
  return ms;
}

function buildQuery(opts: SearchOptions): DecisionQuery {
  const query: DecisionQuery = {
    kid: opts.kid,
    iss: opts.iss,
    aud: opts.aud,
    key_domain: opts.keyDomain,
    tenant: opts.tenant,
    rp: opts.rp,
    decision: opts.decision,
    limit: opts.limit,
  };
  if (opts.since !== undefined) query.since = parseTime(opts.since, '--since');
  if (opts.until !== undefined) query.until = parseTime(opts.until, '--until');
  return query;
}

/** Returns one hit as a flat record of text cells. */
function cells(hit: DecisionHit): Record<string, string> {
  const row: Record<string, string> = { index: String(hit.index), leaf_hash: toHex(hit.leafHash) };
  for (const [field, value] of Object.entries(decisionToJSON(hit.decision))) {
    row[field] = field === 'time' ? new Date(value as number).toISOString() : String(value);
  }
  return row;
}

/** Quotes a CSV field that contains a comma, a quote or a line break (RFC 4180 section 2). */
/**
 * Quotes a CSV cell. A cell that a spreadsheet would run as a formula (it
 * starts with = + - @, tab or CR) gets a leading apostrophe, since logged
 * fields come from tokens an attacker may have minted.
 */
function csvField(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Returns one CSV line of the given cells. */
export function csvLine(values: string[]): string {
  return values.map(csvField).join(',');
}

function printTable(rows: Record<string, string>[]): void {
  const widths = TABLE_COLUMNS.map((c) =>
    Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  out(line(TABLE_COLUMNS.map((c) => c.toUpperCase())));
  for (const row of rows) out(line(TABLE_COLUMNS.map((c) => row[c] ?? '')));
}

/** Prints each page as it arrives, except table rows, which are printed together at the end. */
function printer(format: Format): { page(hits: DecisionHit[]): void; end(): void } {
  const rows: Record<string, string>[] = [];
  if (format === 'csv') out(csvLine([...COLUMNS]));
  return {
    page(hits) {
      for (const hit of hits) {
        if (format === 'json') {
          outJson({
            index: hit.index,
            leaf_hash: toHex(hit.leafHash),
            decision: decisionToJSON(hit.decision),
          });
        } else if (format === 'csv') {
          const row = cells(hit);
          out(csvLine(COLUMNS.map((c) => row[c] ?? '')));
        } else {
          rows.push(cells(hit));
        }
      }
    },
    end() {
      if (format === 'table') printTable(rows);
    },
  };
}

/** declog search [URL] [filters] [--limit N] [--all] [--format table|json|csv] */
export async function search(url: string | undefined, opts: SearchOptions): Promise<void> {
  if (url !== undefined && opts.url !== undefined) {
    throw new UsageError('give the ledger URL once: as the argument or with --url');
  }
  const format: Format = opts.json ? 'json' : opts.format;
  const reader = usage(() => new DeclogReader({ url: ledgerUrl(url ?? opts.url) }));
  const query = buildQuery(opts);
  const print = printer(format);
  let found = 0;
  let indexedSize = 0;
  let more = true;
  while (more) {
    const page = await reader.search(query);
    print.page(page.decisions);
    found += page.decisions.length;
    indexedSize = page.indexedSize;
    query.cursor = page.nextCursor;
    more = opts.all === true && page.nextCursor !== undefined;
  }
  print.end();
  const partial = query.cursor !== undefined ? '; more match: use --all or a larger --limit' : '';
  const coverage = `${found} decisions found; the search index covers entries below tree size ${indexedSize}${partial}`;
  (format === 'table' ? out : note)(coverage);
}
