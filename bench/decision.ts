/**
 * Throughput of the decision codec: canonical CBOR encoding (with schema
 * validation) and strict decoding (scan, decode, validate, re-encode and
 * compare), one core, on records of realistic size.
 *
 * Run: npm run build && node dist/bench/decision.js
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { type Decision, decodeDecision, encodeDecision } from '../src/decision.js';

export interface DecisionBench {
  encodePerSecond: number;
  decodePerSecond: number;
}

const SAMPLES = 1024;
const WARM_UP = 5000;

/** Encodes then decodes `count` decisions, cycling through SAMPLES distinct ones. */
export function benchDecisions(count = 100_000): DecisionBench {
  const decisions = Array.from({ length: SAMPLES }, (_, i) => sampleDecision(i));
  const entries = decisions.map(encodeDecision);
  for (let i = 0; i < WARM_UP; i++) decodeDecision(entries[i % SAMPLES]!);

  const encodeStart = performance.now();
  for (let i = 0; i < count; i++) encodeDecision(decisions[i % SAMPLES]!);
  const encodeMs = performance.now() - encodeStart;

  const decodeStart = performance.now();
  for (let i = 0; i < count; i++) decodeDecision(entries[i % SAMPLES]!);
  const decodeMs = performance.now() - decodeStart;

  return {
    encodePerSecond: perSecond(count, encodeMs),
    decodePerSecond: perSecond(count, decodeMs),
  };
}

function perSecond(count: number, ms: number): number {
  return Math.round((count * 1000) / ms);
}

/** Builds a decision with every field set (366 bytes encoded). Odd samples are rejects. */
function sampleDecision(i: number): Decision {
  const hash = new Uint8Array(32).map((_, j) => (i * 31 + j * 7) & 0xff);
  const reject = i % 2 === 1;
  return {
    v: 1,
    id: `01J${i.toString(36).padStart(23, '0').toUpperCase()}`,
    time: 1_720_000_000_000 + i * 37,
    decision: reject ? 'reject' : 'accept',
    reason: reject ? 'key_domain_mismatch' : 'ok',
    iss: 'https://login.contoso.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
    aud: `api://mail-${i % 16}`,
    key_domain: reject ? 'consumer' : 'enterprise',
    kid: `kid-2024-${i % 97}`,
    alg: 'RS256',
    tenant: 'contoso',
    rp: 'https://mail.contoso.example/',
    validator: 'rp-mail',
    policy: 'sha256:5d1f8a7e',
    token_hash: hash,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = benchDecisions();
  console.log(JSON.stringify(result));
}
