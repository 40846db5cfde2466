import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeclogClient } from '../../src/client.js';
import { openNote } from '../../src/note.js';
import { parsePolicy } from '../../src/policy.js';
import { generateCosignatureKey, newCosignatureVerifier } from '../../src/cosignature.js';
import { decisionJSON } from '../support/decisions.js';
import { get, post, startTestServer, type TestServer } from '../server/harness.js';
import { startTestWitness, type TestWitness } from './helpers.js';

let w1: TestWitness;
let w2: TestWitness;
let server: TestServer;
let policyText: string;

/** Starts a ledger whose key the witnesses must know, so the key is made first. */
beforeAll(async () => {
  // The witnesses trust the ledger's key, which only exists once the ledger does:
  // start the ledger without a policy, then restart it with one.
  const bare = await startTestServer();
  w1 = await startTestWitness([bare.verifierKey], 'witness.example/w1');
  w2 = await startTestWitness([bare.verifierKey], 'witness.example/w2');
  policyText =
    `witness w1 ${w1.verifierKey} ${w1.url}\n` +
    `witness w2 ${w2.verifierKey} ${w2.url}\n` +
    'group both 2 w1 w2\nquorum both\n';
  await bare.running.close();
  server = await startTestServer({ dataDir: bare.dir + '/data', policy: parsePolicy(policyText) });
  server.token = bare.token;
  server.verifierKey = bare.verifierKey;
  server.verifier = bare.verifier;
});
afterAll(async () => {
  await server.stop();
  await w1.server.close();
  await w2.server.close();
});

function cosigners(note: string): string[] {
  const verifiers = [w1, w2].map((w) => newCosignatureVerifier(w.verifierKey));
  return openNote(note, [server.verifier, ...verifiers])
    .sigs.map((s) => s.name)
    .sort();
}

async function served(path: string): Promise<string> {
  return (await get(server, path)).json as string;
}

describe('ledger with a witness policy', () => {
  it('publishes only cosigned checkpoints', async () => {
    const reply = await post(server, decisionJSON(1), { path: '/v1/decisions?wait=witnessed' });
    expect(reply.status).toBe(200);
    expect(cosigners(reply.json.checkpoint)).toEqual([
      'log.example/declog',
      'witness.example/w1',
      'witness.example/w2',
    ]);
    expect(cosigners(await served('/checkpoint'))).toHaveLength(3);
  });

  it('publishes nothing new with a witness down', async () => {
    const before = await served('/checkpoint');
    await w2.server.close();
    const reply = await post(server, decisionJSON(2));
    expect(reply.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await served('/checkpoint')).toBe(before);
    expect(await served('/checkpoint/unwitnessed')).toBe(reply.json.checkpoint);
    const metrics = (await get(server, '/metrics')).json as string;
    expect(metrics).toMatch(
      /declog_witness_failures_total\{witness="w2",code="network_error"\} [1-9]/,
    );
  });

  it('fails a client with the policy when the quorum is missing', async () => {
    const client = (text: string) =>
      new DeclogClient({
        url: server.url,
        verifierKey: server.verifierKey,
        policy: parsePolicy(text),
      });
    await expect(client(policyText).checkpoint()).resolves.toBeDefined();
    const w3 = generateCosignatureKey('witness.example/w3').verifierKey;
    const stricter = policyText.replace(
      'group both 2 w1 w2\nquorum both\n',
      `witness w3 ${w3}\ngroup all 3 w1 w2 w3\nquorum all\n`,
    );
    await expect(client(stricter).checkpoint()).rejects.toMatchObject({
      code: 'quorum_not_met',
      message: expect.stringContaining('missing cosignatures of [w3]'),
    });
  });

  it('catches up once the witness is back', async () => {
    await w2.restart();
    const reply = await post(server, decisionJSON(3), { path: '/v1/decisions?wait=witnessed' });
    expect(reply.status).toBe(200);
    expect(reply.json.tree_size).toBe(3);
    expect(cosigners(await served('/checkpoint'))).toHaveLength(3);
  });

  it('rejects wait values other than witnessed', async () => {
    const reply = await post(server, decisionJSON(4), { path: '/v1/decisions?wait=soon' });
    expect(reply.status).toBe(400);
  });
});
