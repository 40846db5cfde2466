/**
 * Search over HTTP on a large log: GET /v1/decisions pages of 100 decisions
 * with one kid, starting after a random cursor. A sample of the pages is
 * checked afterwards: full, in index order, past the cursor, and only that kid.
 */
import { runLoad, type LoadResult } from './load.js';
import { randomIndex } from './request-template.js';
import { Reservoir } from './stats.js';
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

/** Query n: kid n mod KIDS, after a random cursor that leaves at least two full pages. */
function queryOf(n: number, size: number): Query {
  const last = Math.max(1, size - 2 * PAGE_SIZE * KIDS);
  return { kid: kidOf(n), cursor: randomIndex(n, last) };
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
  const samples = new Reservoir<{ n: number; body: string }>(SAMPLE_SIZE);
  const load = await runLoad({
    url: options.url,
    concurrency: options.concurrency,
    seconds: options.seconds,
    warmUpSeconds: options.warmUpSeconds,
    serverPid: options.serverPid,
    request: (n) => {
      const { kid, cursor } = queryOf(n, options.size);
      return {
        method: 'GET',
        path: `/v1/decisions?kid=${kid}&limit=${PAGE_SIZE}&cursor=${cursor}`,
      };
    },
    onResponse: (n, status, body) => status === 200 && samples.offer({ n, body }),
  });
  for (const { n, body } of samples.items) checkPage(body, queryOf(n, options.size));
  return { load, checkedPages: samples.items.length };
}
