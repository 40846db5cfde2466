import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCosignatureVerifier } from '../../src/cosignature.js';
import { generateKey, newSigner, newVerifier, openNote, signNote } from '../../src/note.js';
import { toBase64 } from '../../src/encoding.js';
import { openWitnessDir } from '../../src/witness-dir.js';
import { addCheckpoint, startTestWitness, testLog, type TestWitness } from './helpers.js';

const log = testLog();
let witness: TestWitness;

beforeAll(async () => {
  witness = await startTestWitness([log.verifierKey]);
});
afterAll(() => witness.server.close());

describe('witness add-checkpoint', () => {
  it('cosigns a first checkpoint', async () => {
    const reply = await addCheckpoint(witness.url, log.body(0, 5));
    expect(reply.status).toBe(200);
    expect(reply.text).toMatch(/^\u2014 witness\.example\/w1 \S+\n$/);
    const note = openNote(log.checkpoint(5) + reply.text, [
      newCosignatureVerifier(witness.verifierKey),
    ]);
    expect(note.sigs.map((s) => s.name)).toEqual(['witness.example/w1']);
  });

  it('cosigns a consistent extension', async () => {
    const reply = await addCheckpoint(witness.url, log.body(5, 300));
    expect(reply.status).toBe(200);
  });

  it('answers 409 with its size', async () => {
    const reply = await addCheckpoint(witness.url, log.body(5, 400));
    expect(reply).toEqual({ status: 409, type: 'text/x.tlog.size', text: '300\n' });
  });

  it('answers 422 for the same size with another root', async () => {
    const reply = await addCheckpoint(witness.url, log.body(300, 300, 'fork'));
    expect(reply.status).toBe(422);
  });

  it('answers 422 for a bad proof', async () => {
    const body = log
      .body(300, 400)
      .replace(/\n[^\n]+\n\n/, `\n${toBase64(new Uint8Array(32))}\n\n`);
    expect((await addCheckpoint(witness.url, body)).status).toBe(422);
  });

  it('answers 422 for a fork', async () => {
    const reply = await addCheckpoint(witness.url, log.body(300, 400, 'fork'));
    expect(reply.status).toBe(422);
  });

  it('answers 400 when old exceeds new', async () => {
    const body = log.body(0, 200).replace('old 0', 'old 300');
    expect((await addCheckpoint(witness.url, body)).status).toBe(400);
  });

  it('answers 400 for a malformed body', async () => {
    for (const body of [
      '',
      'old 01\n\n' + log.checkpoint(3),
      'old 0\nnot base64\n\n' + log.checkpoint(3),
      'old 0\n' + log.checkpoint(3),
    ]) {
      expect((await addCheckpoint(witness.url, body)).status, body.slice(0, 20)).toBe(400);
    }
  });

  it('answers 403 without a valid log signature', async () => {
    const { text } = openNote(log.checkpoint(3), [newVerifier(log.verifierKey)]);
    const impostor = newSigner(generateKey('log.example/witnessed').signerKey);
    const reply = await addCheckpoint(witness.url, `old 300\n\n${signNote(text, [impostor])}`);
    expect(reply.status).toBe(403);
    // Flip one bit of the log's own signature.
    const signed = log.checkpoint(500);
    const at = signed.length - 10;
    const flipped = signed.slice(0, at) + (signed[at] === 'A' ? 'B' : 'A') + signed.slice(at + 1);
    expect((await addCheckpoint(witness.url, `old 300\n\n${flipped}`)).status).toBe(403);
  });

  it('answers 404 for an unknown origin', async () => {
    const stranger = testLog('log.example/unknown');
    expect((await addCheckpoint(witness.url, stranger.body(0, 2))).status).toBe(404);
  });

  it('keeps its state across a restart', async () => {
    await witness.server.close();
    await witness.restart();
    const reply = await addCheckpoint(witness.url, log.body(0, 400));
    expect(reply).toEqual({ status: 409, type: 'text/x.tlog.size', text: '300\n' });
  });
});

describe('witness state', () => {
  it('never cosigns two roots for one size under concurrency', async () => {
    const race = testLog('log.example/race');
    const w = await startTestWitness([race.verifierKey], 'witness.example/race');
    // A second opener of the same state file, as another process would be.
    const twin = openWitnessDir(w.dir, [newVerifier(race.verifierKey)]);
    const direct = async (body: string) => {
      await Promise.resolve();
      try {
        return { status: 200, text: twin.addCheckpoint(body) };
      } catch {
        return { status: 409, text: '' };
      }
    };
    const forks = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const attempts = forks.map((fork, i) => ({
      fork,
      reply: (i % 2 ? direct : (b: string) => addCheckpoint(w.url, b))(race.body(0, 10, fork)),
    }));
    const cosigned: string[] = [];
    for (const a of attempts) if ((await a.reply).status === 200) cosigned.push(a.fork);
    expect(cosigned).toHaveLength(1);
    const stored = twin.state.get('log.example/race')!;
    expect(stored.size).toBe(10);
    expect(Buffer.from(stored.root)).toEqual(Buffer.from(race.tree(10, cosigned[0]).mth()));
    twin.state.close();
    await w.server.close();
  });
});
