/**
 * PostgreSQL for tests. DECLOG_TEST_PG names a server that the tests may
 * create and drop databases on; test/support/start-postgres.sh starts one
 * and prints its URL. In CI (CI set) a missing URL fails the run; elsewhere
 * the PostgreSQL tests are skipped with a message.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server URL, or undefined when PostgreSQL tests are skipped. */
export const TEST_PG_URL = process.env.DECLOG_TEST_PG || undefined;

if (!TEST_PG_URL) {
  const startCommand = 'export DECLOG_TEST_PG=$(test/support/start-postgres.sh "$(mktemp -d)")';
  if (process.env.CI) {
    throw new Error(
      `DECLOG_TEST_PG is not set, and CI must run the PostgreSQL tests: ${startCommand}`,
    );
  }
  console.warn(
    `Skipping the PostgreSQL tests: DECLOG_TEST_PG is not set. To run them: ${startCommand}`,
  );
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/** Creates an empty database with a random name on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (!TEST_PG_URL) throw new Error('DECLOG_TEST_PG is not set');
  const name = `declog_test_${randomBytes(8).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(),
  };
}

/** Runs SQL on a test database with a connection of its own; returns the last result's rows. */
export async function execSql(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql);
    return (Array.isArray(result) ? result.at(-1) : result)?.rows ?? [];
  } finally {
    await client.end();
  }
}
