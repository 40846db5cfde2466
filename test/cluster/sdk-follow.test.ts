/**
 * The SDK pointed at a server that does not sequence: the server answers
 * with not_sequencer and the sequencer's URL, and the client resends there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeclogClient } from '../../src/client.js';
import { createTestDatabase, TEST_PG_URL, type TestDatabase } from '../support/postgres.js';
import { decision } from '../client/harness.js';
import { type Cluster, sequencerUrl, startCluster } from './cluster.js';

let db: TestDatabase | undefined;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  await db?.drop();
  cluster = undefined;
  db = undefined;
});

describe.skipIf(!TEST_PG_URL)('SDK and a follower', () => {
  it('follows not_sequencer to the sequencer', { timeout: 60_000 }, async () => {
    db = await createTestDatabase();
    cluster = await startCluster(db.url, 2);
    const leader = await sequencerUrl(cluster);
    const follower = cluster.servers.find((s) => s.url !== leader)!;
    const refused = await fetch(`${follower.url}/v1/decisions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${cluster.init.token}`,
      },
      body: JSON.stringify(decision()),
    });
    expect(refused.status).toBe(503);

    const client = new DeclogClient({
      url: follower.url,
      token: cluster.init.token,
      verifierKey: cluster.init.verifier_key,
    });
    const [receipt] = await client.append(decision());
    expect(receipt!.duplicate).toBe(false);
    expect(receipt!.treeSize).toBeGreaterThan(receipt!.index);
  });
});
