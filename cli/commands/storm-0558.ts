/**
 * declog storm-0558: replays the 2023 Storm-0558 forgery on loopback.
 *
 * A consumer and an enterprise identity provider each serve their own JWKS
 * and sign tokens with jose. Two mail relying parties record every decision
 * in a declog ledger through the SDK. One has the flawed validation of the
 * incident: the signature is checked against the keys of both providers, but
 * the key's domain is not. The other uses the token gate. The workload mixes
 * normal sign-ins with tokens forged with the consumer key for the
 * enterprise audience, and the ledger then shows every forged accept with a
 * verified inclusion proof.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { pino } from 'pino';
import { startServer } from '../../server/main.js';
import { DeclogClient, type AppendReceipt } from '../../src/client.js';
import { initDataDir, openStore } from '../../src/data-dir.js';
import type { DecisionInput } from '../../src/decision.js';
import { utf8 } from '../../src/encoding.js';
import { VerificationError } from '../../src/errors.js';
import { sha256 } from '../../src/hash.js';
import { addValidator } from '../../src/ledger.js';
import { createTokenGate, type TrustConfig } from '../../src/token-gate.js';
import { out, outJson } from '../options.js';

export interface StormOptions {
  count: number;
  json?: boolean;
}

const ENTERPRISE_ISS = 'https://login.enterprise.example';
const CONSUMER_ISS = 'https://login.consumer.example';
const MAIL = 'https://mail.enterprise.example';
const PHOTOS = 'https://photos.consumer.example';
const TENANT = 'contoso';
/** Time budget of the gated relying party's recordThenAdmit, in milliseconds. */
const ADMIT_BUDGET_MS = 2000;
/** How long the replay waits for the search index to reach the log's size, in milliseconds. */
const INDEX_WAIT_MS = 20_000;

/** An identity provider: one ES256 key, GET /jwks and GET /token?sub=&aud=&ttl=. */
interface IdP {
  domain: 'consumer' | 'enterprise';
  issuer: string;
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
  url: string;
  server: Server;
}

function listen(server: Server): Promise<string> {
  return new Promise((done) => {
    server.listen(0, '127.0.0.1', () => {
      done(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function stopServer(server: Server): void {
  server.closeAllConnections();
  server.close();
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Signs a token of `issuer` with `key`; the enterprise tenant is claimed unless `tid` is given. */
function sign(
  key: { privateKey: CryptoKey; kid: string },
  claims: JWTPayload,
  ttlSeconds: number,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now - 30, exp: now + ttlSeconds, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

async function startIdP(domain: IdP['domain'], issuer: string, kid: string): Promise<IdP> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const idp = { domain, issuer, kid, privateKey, jwk } as IdP;
  idp.server = createServer((req, res) => void serveIdP(idp, req, res));
  idp.url = await listen(idp.server);
  return idp;
}

async function serveIdP(idp: IdP, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', idp.url);
  if (url.pathname === '/jwks') return reply(res, 200, { keys: [idp.jwk] });
  if (url.pathname !== '/token') return reply(res, 404, { error: 'not found' });
  const claims: JWTPayload = {
    iss: idp.issuer,
    aud: url.searchParams.get('aud') ?? '',
    sub: url.searchParams.get('sub') ?? 'user',
  };
  if (idp.domain === 'enterprise') claims['tid'] = TENANT;
  const ttl = Number(url.searchParams.get('ttl') ?? '600');
  reply(res, 200, { token: await sign(idp, claims, ttl) });
}

/** A relying party: GET /inbox with a bearer token; every decision goes to the ledger. */
interface RelyingParty {
  name: string;
  url: string;
  server: Server;
  client: DeclogClient;
}

type Validate = (token: string) => Promise<DecisionInput>;

async function startRelyingParty(
  name: string,
  client: DeclogClient,
  validate: Validate,
  admit: (d: DecisionInput) => Promise<boolean>,
): Promise<RelyingParty> {
  const server = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    void validate(token)
      .then(admit)
      .then(
        (ok) => reply(res, ok ? 200 : 401, { ok }),
        () => reply(res, 401, { ok: false }),
      );
  });
  return { name, url: await listen(server), server, client };
}

/** Returns the decision fields a relying party reads from a token, whatever the verdict. */
function baseDecision(rp: string, token: string): DecisionInput {
  let kid = 'none';
  let alg: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    kid = typeof header.kid === 'string' && header.kid !== '' ? header.kid : 'none';
    alg = header.alg;
  } catch {
    // A token without a readable header keeps kid "none".
  }
  const d: DecisionInput = {
    id: crypto.randomUUID(),
    time: Date.now(),
    decision: 'reject',
    reason: 'malformed',
    iss: 'unknown',
    aud: MAIL,
    key_domain: 'unknown',
    kid,
    rp,
    token_hash: sha256(utf8(token)),
  };
  if (alg) d.alg = alg;
  return d;
}

/**
 * Returns the incident's validation: a signature by any key of either provider is
 * accepted for mail, as long as audience, issuer and expiry match. The key
 * domain is known and logged, but never compared with the relying party's.
 */
function flawedValidator(idps: IdP[]): Validate {
  const sets = idps.map((idp) => ({
    domain: idp.domain,
    keys: createRemoteJWKSet(new URL(`${idp.url}/jwks`)),
  }));
  return async (token) => {
    const d = baseDecision('mail-flawed', token);
    for (const { domain, keys } of sets) {
      try {
        const { payload } = await jwtVerify(token, keys, { algorithms: ['ES256'] });
        d.key_domain = domain;
        d.iss = typeof payload.iss === 'string' ? payload.iss : 'unknown';
        if (typeof payload['tid'] === 'string') d.tenant = payload['tid'];
        d.reason = flawedClaims(payload);
        d.decision = d.reason === 'ok' ? 'accept' : 'reject';
        return d;
      } catch (err) {
        if (err instanceof errors.JWTExpired) {
          d.key_domain = domain;
          d.reason = 'expired';
          return d;
        }
      }
    }
    d.reason = 'unknown_kid';
    return d;
  };
}

function flawedClaims(payload: JWTPayload): string {
  const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  if (!audiences.includes(MAIL)) return 'audience_mismatch';
  if (payload.iss !== ENTERPRISE_ISS) return 'issuer_not_allowed';
  return 'ok';
}

function trustConfig(consumer: IdP, enterprise: IdP): TrustConfig {
  return {
    key_domains: {
      consumer: { jwks_uri: `${consumer.url}/jwks` },
      enterprise: { jwks_uri: `${enterprise.url}/jwks` },
    },
    relying_parties: {
      'mail-gated': {
        issuers: [ENTERPRISE_ISS],
        audiences: [MAIL],
        key_domain: 'enterprise',
        tenants: [TENANT],
      },
    },
  };
}

/** Starts the ledger on a temporary data folder, with one validator token per relying party. */
async function startLedger(dir: string) {
  const { verifierKey } = await initDataDir(dir, 'storm-0558.example/log');
  const store = openStore(dir);
  const tokens = {
    flawed: await addValidator(store, 'mail-flawed'),
    gated: await addValidator(store, 'mail-gated'),
  };
  await store.close();
  const logger = pino({ level: 'silent' });
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, logger });
  return { server, verifierKey, tokens };
}

type Kind = 'enterprise' | 'consumer-app' | 'forged' | 'expired';

/** Picks request i: mostly enterprise sign-ins, with forged, expired and consumer tokens mixed in. */
function kindOf(i: number): Kind {
  const kinds: Kind[] = ['enterprise', 'forged', 'enterprise', 'consumer-app', 'enterprise'];
  return i % 10 === 9 ? 'expired' : kinds[i % kinds.length]!;
}

async function fetchToken(idp: IdP, aud: string, ttl = 600): Promise<string> {
  const url = `${idp.url}/token?aud=${encodeURIComponent(aud)}&sub=u${Math.random()}&ttl=${ttl}`;
  const body = (await (await fetch(url)).json()) as { token: string };
  return body.token;
}

/** Mints the attacker's token: enterprise claims, signed with the stolen consumer key. */
function forge(consumer: IdP): Promise<string> {
  return sign(consumer, { iss: ENTERPRISE_ISS, aud: MAIL, tid: TENANT, sub: 'victim' }, 600);
}

function mintFor(kind: Kind, consumer: IdP, enterprise: IdP): Promise<string> {
  if (kind === 'forged') return forge(consumer);
  if (kind === 'consumer-app') return fetchToken(consumer, PHOTOS);
  return fetchToken(enterprise, MAIL, kind === 'expired' ? -120 : 600);
}

async function call(rp: RelyingParty, token: string): Promise<boolean> {
  const res = await fetch(`${rp.url}/inbox`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status === 200;
}

/** Summary of the replay, printed as text or JSON. */
export interface StormSummary {
  requests: number;
  forged: number;
  flawed: { accepted: number; rejected: number; forgedAccepted: number };
  gated: { accepted: number; rejected: number; forgedAccepted: number };
  ledger: {
    treeSize: number;
    forgedAcceptsLogged: number;
    forgedAcceptsProven: number;
    gateRejectsLogged: number;
    gateRejectReasons: Record<string, number>;
  };
  /** From the flawed relying party's first forged accept to its verified receipt, in ms. */
  firstForgedAcceptToCheckpointMs: number | undefined;
}

/** Watches the flawed relying party for its first forged accept and its receipt. */
function firstForgedAccept(client: DeclogClient) {
  const watch = { id: undefined as string | undefined, at: 0, ms: undefined as number | undefined };
  client.on('receipt', (r: AppendReceipt) => {
    if (r.decision.id === watch.id && watch.ms === undefined)
      watch.ms = performance.now() - watch.at;
  });
  const seen = (d: DecisionInput) => {
    if (watch.id === undefined && d.decision === 'accept' && d.key_domain === 'consumer') {
      watch.id = d.id;
      watch.at = performance.now();
    }
  };
  return { watch, seen };
}

/** Replays the workload and returns the counts per relying party. */
async function replay(
  count: number,
  idps: { consumer: IdP; enterprise: IdP },
  flawed: RelyingParty,
  gated: RelyingParty,
) {
  const tally = () => ({ accepted: 0, rejected: 0, forgedAccepted: 0 });
  const result = { forged: 0, flawed: tally(), gated: tally() };
  for (let i = 0; i < count; i++) {
    const kind = kindOf(i);
    const token = await mintFor(kind, idps.consumer, idps.enterprise);
    if (kind === 'forged') result.forged++;
    const verdicts = await Promise.all([call(flawed, token), call(gated, token)]);
    [result.flawed, result.gated].forEach((t, k) => {
      if (verdicts[k]) t.accepted++;
      else t.rejected++;
      if (verdicts[k] && kind === 'forged') t.forgedAccepted++;
    });
  }
  return result;
}

/** Reads every page of a search after the index has caught up with the log. */
async function searchAll(client: DeclogClient, query: Parameters<DeclogClient['search']>[0]) {
  const size = (await client.checkpoint()).size;
  const deadline = Date.now() + INDEX_WAIT_MS;
  let page = await client.search({ ...query, limit: 1000 });
  while (page.indexedSize < size && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 50));
    page = await client.search({ ...query, limit: 1000 });
  }
  const hits = [...page.decisions];
  while (page.nextCursor) {
    page = await client.search({ ...query, limit: 1000, cursor: page.nextCursor });
    hits.push(...page.decisions);
  }
  return hits;
}

/**
 * Looks up the evidence in the ledger: the flawed validator's accepts of
 * consumer-key tokens, each with a verified inclusion proof, and the gate's
 * decisions on consumer-key tokens that claim the enterprise issuer.
 */
async function evidence(url: string, verifierKey: string) {
  const auditor = new DeclogClient({ url, verifierKey });
  const accepts = await searchAll(auditor, {
    rp: 'mail-flawed',
    key_domain: 'consumer',
    decision: 'accept',
  });
  let proven = 0;
  for (const hit of accepts) {
    const proof = await auditor.inclusionProof(hit.index);
    if (proof.leafHash.every((b, i) => b === hit.leafHash[i])) proven++;
  }
  const gate = await searchAll(auditor, {
    rp: 'mail-gated',
    key_domain: 'consumer',
    iss: ENTERPRISE_ISS,
  });
  const reasons: Record<string, number> = {};
  for (const hit of gate) {
    const key = `${hit.decision.decision} ${hit.decision.reason}`;
    reasons[key] = (reasons[key] ?? 0) + 1;
  }
  const treeSize = auditor.latest?.size ?? 0;
  return {
    treeSize,
    forgedAcceptsLogged: accepts.length,
    forgedAcceptsProven: proven,
    gateRejectsLogged: gate.filter((h) => h.decision.decision === 'reject').length,
    gateRejectReasons: reasons,
  };
}

function printSummary(s: StormSummary): void {
  out(`replayed ${s.requests} sign-ins to two mail relying parties, ${s.forged} of them forged`);
  out('(enterprise claims signed with the consumer key)');
  for (const [name, t] of [
    ['flawed validator', s.flawed],
    ['token gate      ', s.gated],
  ] as const) {
    out(
      `  ${name}: ${t.accepted} accepted, ${t.rejected} rejected, forged accepted: ${t.forgedAccepted}`,
    );
  }
  out(`ledger at tree size ${s.ledger.treeSize}:`);
  out(
    `  forged accepts of the flawed validator logged: ${s.ledger.forgedAcceptsLogged}, with verified inclusion proofs: ${s.ledger.forgedAcceptsProven}`,
  );
  const reasons = Object.entries(s.ledger.gateRejectReasons)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  out(`  consumer-key tokens at the token gate: ${reasons || 'none'}`);
  const ms = s.firstForgedAcceptToCheckpointMs;
  out(
    `first forged accept to a signed checkpoint containing it: ${ms === undefined ? 'not seen' : `${ms.toFixed(1)} ms`}`,
  );
}

/** Checks the claims of the replay; a failure is a defect of the gate, the SDK or the ledger. */
function check(s: StormSummary): void {
  const failures: string[] = [];
  if (s.flawed.forgedAccepted !== s.forged) {
    failures.push(
      `the flawed validator accepted ${s.flawed.forgedAccepted} of ${s.forged} forged tokens`,
    );
  }
  if (s.ledger.forgedAcceptsProven !== s.flawed.forgedAccepted) {
    failures.push(
      `${s.ledger.forgedAcceptsProven} forged accepts proven in the ledger, expected ${s.flawed.forgedAccepted}`,
    );
  }
  if (s.gated.forgedAccepted > 0)
    failures.push(`the gate accepted ${s.gated.forgedAccepted} forged tokens`);
  if (s.ledger.gateRejectReasons[`reject key_domain_mismatch`] !== s.forged) {
    failures.push(
      `the gate's key_domain_mismatch rejects in the ledger are not the ${s.forged} forged tokens`,
    );
  }
  if (failures.length > 0) {
    throw new VerificationError('rule_violation', `storm-0558 replay: ${failures.join('; ')}`);
  }
}

/** declog storm-0558 [--count N] [--json] */
export async function storm0558(opts: StormOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'declog-storm-0558-'));
  const closers: (() => Promise<void> | void)[] = [
    () => rmSync(dir, { recursive: true, force: true }),
  ];
  try {
    const consumer = await startIdP('consumer', CONSUMER_ISS, 'consumer-2023');
    const enterprise = await startIdP('enterprise', ENTERPRISE_ISS, 'enterprise-2023');
    closers.push(
      () => stopServer(consumer.server),
      () => stopServer(enterprise.server),
    );
    const ledger = await startLedger(join(dir, 'data'));
    closers.push(() => ledger.server.close());
    const sdk = (token: string) =>
      new DeclogClient({
        url: ledger.server.url,
        token,
        verifierKey: ledger.verifierKey,
        lingerMs: 2,
      });
    const flawedClient = sdk(ledger.tokens.flawed);
    const gatedClient = sdk(ledger.tokens.gated);
    const first = firstForgedAccept(flawedClient);
    const validate = flawedValidator([consumer, enterprise]);
    const flawed = await startRelyingParty('mail-flawed', flawedClient, validate, async (d) => {
      first.seen(d);
      await flawedClient.record(d);
      return d.decision === 'accept';
    });
    const gate = createTokenGate(trustConfig(consumer, enterprise));
    const gated = await startRelyingParty(
      'mail-gated',
      gatedClient,
      async (token) => (await gate.check(token, 'mail-gated')).decision,
      async (d) => {
        if (d.decision !== 'accept') {
          await gatedClient.record(d);
          return false;
        }
        // Admitted only once the accept is sequenced in a verified checkpoint.
        await gatedClient.recordThenAdmit(d, { budgetMs: ADMIT_BUDGET_MS });
        return true;
      },
    );
    closers.push(
      () => stopServer(flawed.server),
      () => stopServer(gated.server),
    );

    const counts = await replay(opts.count, { consumer, enterprise }, flawed, gated);
    await Promise.all([flawedClient.close(), gatedClient.close()]);
    const summary: StormSummary = {
      requests: opts.count,
      ...counts,
      ledger: await evidence(ledger.server.url, ledger.verifierKey),
      firstForgedAcceptToCheckpointMs: first.watch.ms,
    };
    if (opts.json) outJson(summary);
    else printSummary(summary);
    check(summary);
  } finally {
    for (const close of closers.reverse()) await close();
  }
}
