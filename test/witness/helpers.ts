/**
 * Witnesses and logs for the witness tests: a witness data folder served on
 * a free loopback port, and checkpoints of a reference tree signed by a
 * fresh log key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { formatCheckpoint } from '../../src/checkpoint.js';
import { generateKey, newSigner, newVerifier, signNote, type Signer } from '../../src/note.js';
import { initWitnessDir, openWitnessDir } from '../../src/witness-dir.js';
import { formatAddCheckpoint } from '../../src/witness.js';
import { startWitnessServer, type RunningWitness } from '../../server/witness.js';
import { ReferenceTree, sampleEntries } from '../support/reference-tree.js';

export interface TestLog {
  signer: Signer;
  verifierKey: string;
  tree: (size: number) => ReferenceTree;
  /** The signed checkpoint of the first `size` entries (of the fork's entries when `fork`). */
  checkpoint: (size: number, fork?: string) => string;
  /** An add-checkpoint body from `old` to `size`, with the reference consistency proof. */
  body: (old: number, size: number, fork?: string) => string;
}

/** A log named `origin` whose entries are sampleEntries(..., fork ?? 'entry'). */
export function testLog(origin = 'log.example/witnessed'): TestLog {
  const { signerKey, verifierKey } = generateKey(origin);
  const signer = newSigner(signerKey);
  const tree = (size: number, fork = 'entry') => new ReferenceTree(sampleEntries(size, fork));
  const checkpoint = (size: number, fork?: string) => {
    const text = formatCheckpoint({ origin, size, root: tree(size, fork).mth(), extensions: [] });
    return signNote(text, [signer]);
  };
  const body = (old: number, size: number, fork?: string) => {
    const proof = old > 0 && old < size ? tree(size, fork).proof(old, size) : [];
    return formatAddCheckpoint({ oldSize: old, proof, checkpoint: checkpoint(size, fork) });
  };
  return { signer, verifierKey, tree, checkpoint, body };
}

export interface TestWitness {
  dir: string;
  name: string;
  verifierKey: string;
  url: string;
  server: RunningWitness;
  /** Serves the witness again on the same port after stop(). */
  restart: () => Promise<void>;
}

/** Creates a witness for `logKeys` and serves it on `port` (default: a free one). */
export async function startTestWitness(
  logKeys: string[],
  name = 'witness.example/w1',
  port = 0,
): Promise<TestWitness> {
  const dir = join(mkdtempSync(join(tmpdir(), 'declog-witness-')), 'witness');
  const { verifierKey } = initWitnessDir(dir, name);
  const logger = pino({ level: 'silent' });
  const serve = (p: number) =>
    startWitnessServer({ witness: openWitnessDir(dir, logKeys.map(newVerifier)), logger, port: p });
  const w: TestWitness = { dir, name, verifierKey, url: '', server: await serve(port), restart };
  w.url = w.server.url;
  async function restart() {
    w.server = await serve(Number(new URL(w.url).port));
  }
  return w;
}

/** POSTs an add-checkpoint body and returns status, content type and text. */
export async function addCheckpoint(url: string, body: string) {
  const send = () => fetch(`${url}/add-checkpoint`, { method: 'POST', body });
  // A pooled keep-alive socket to a restarted witness fails once; a new one then connects.
  const res = await send().catch(send);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}
