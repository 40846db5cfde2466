/**
 * Search over HTTP on a large log: GET /v1/decisions pages of 100 decisions
 * with one kid, starting after a random cursor. A sample of the pages is
 * checked afterwards: full, in index order, past the cursor, and only that kid.
 */
import { type LoadClient, type LoadResult, runSampledLoad } from './load.js';
import { type RequestTemplate, randomIndex } from './request-template.js';
import { KIDS, kidOf } from './workload.js';

const SAMPLE_SIZE = 100;
export const PAGE_SIZE = 100;

export interface SearchOptions {
  url: string;
  /** Process ID of the server, for its CPU use. */
  serverPid: number;
  /** Tree size of the log, fully indexed. */
  size: number;
  concurrency: number;
  seconds: number;
  warmUpSeconds: number;
  /** The load generator (default: wrk when it is on PATH). */
  client?: LoadClient;
}

export interface SearchFigure {
  load: LoadResult;
  checkedPages: number;
}

interface Query {
  kid: string;
  cursor: number;
}

interface Page {
  decisions: { index: number; decision: { kid: string } }[];
}

/** Returns the bound below which query cursors are drawn: it leaves at least two full pages. */
function lastCursor(size: number): number {
  return Math.max(1, size - 2 * PAGE_SIZE * KIDS);
}

/** Query n: kid n mod KIDS, after a random cursor below lastCursor(size). */
function queryOf(n: number, size: number): Query {
  return { kid: kidOf(n), cursor: randomIndex(n, lastCursor(size)) };
}

/** Returns a template whose request n is the query queryOf(n, size). */
function searchTemplate(size: number): RequestTemplate {
  return {
    method: 'GET',
    path: [
      '/v1/decisions?kid=',
      { pick: Array.from({ length: KIDS }, (_, i) => kidOf(i)), by: { of: 'n' } },
      `&limit=${PAGE_SIZE}&cursor=`,
      { integer: { of: 'random', below: lastCursor(size) } },
    ],
  };
}

function checkPage(body: string, query: Query): void {
  const { decisions } = JSON.parse(body) as Page;
  if (decisions.length !== PAGE_SIZE) {
    throw new Error(
      `a page after ${query.cursor} has ${decisions.length} decisions, expected ${PAGE_SIZE}`,
    );
  }
  let previous = query.cursor;
  for (const { index, decision } of decisions) {
    if (decision.kid !== query.kid)
      throw new Error(`entry ${index} has kid ${decision.kid}, expected ${query.kid}`);
    if (index <= previous) throw new Error(`entry ${index} follows ${previous} in a page`);
    previous = index;
  }
}

/** Runs the search load and checks a sample of the pages. */
export async function benchSearch(options: SearchOptions): Promise<SearchFigure> {
  const { load, samples } = await runSampledLoad(
    {
      url: options.url,
      concurrency: options.concurrency,
      seconds: options.seconds,
      warmUpSeconds: options.warmUpSeconds,
      serverPid: options.serverPid,
      client: options.client,
      request: searchTemplate(options.size),
    },
    SAMPLE_SIZE,
  );
  for (const { n, body } of samples) checkPage(body, queryOf(n, options.size));
  return { load, checkedPages: samples.length };
}
