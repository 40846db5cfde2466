/**
 * declog demo: feeds a running ledger with the decisions of a real JWT
 * validation, then verifies the result with the CLI itself.
 *
 * Two issuers sign ES256 tokens with jose: a consumer one and an enterprise
 * one, each with its own key domain. The workload mixes normal tokens with
 * tokens forged with the consumer key for the enterprise audience, expired
 * tokens, a foreign tenant, a tampered signature and an unknown key. A
 * fail-closed token gate decides each one and every decision is appended.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { DeclogClient } from '../../src/client.js';
import { FIRST_VALIDATOR, openStore, VERIFIER_KEY_FILE } from '../../src/data-dir.js';
import type { DecisionInput } from '../../src/decision.js';
import { toHex } from '../../src/encoding.js';
import { UsageError } from '../../src/errors.js';
import { addValidator } from '../../src/ledger.js';
import { createTokenGate, type TrustConfig } from '../../src/token-gate.js';
import { ledgerUrl, out, readInput } from '../options.js';

export interface DemoOptions {
  url?: string;
  data: string;
  token?: string;
  count: number;
}

const ENTERPRISE_ISS = 'https://login.enterprise.example';
const CONSUMER_ISS = 'https://login.consumer.example';
const MAIL = 'https://mail.enterprise.example';
const PHOTOS = 'https://photos.consumer.example';
const CLI = fileURLToPath(new URL('../main.js', import.meta.url));

interface Issuer {
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  jwk: JWK;
  kid: string;
}

async function newIssuer(kid: string): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    privateKey,
    kid,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  };
}

interface TokenCase {
  name: string;
  rp: 'mail' | 'photos';
  forged: boolean;
  mint: () => Promise<string>;
}

/** Mints a token whose claims default to an enterprise user of tenant contoso. */
function minter(signer: Issuer, now: number) {
  return (claims: Record<string, unknown> = {}, kid = signer.kid, lifetime = 600) =>
    new SignJWT({ tid: 'contoso', sub: `user-${Math.floor(Math.random() * 1e6)}`, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer((claims.iss as string) ?? ENTERPRISE_ISS)
      .setAudience((claims.aud as string) ?? MAIL)
      .setIssuedAt(Math.floor(now / 1000) - 30)
      .setExpirationTime(Math.floor(now / 1000) + lifetime)
      .sign(signer.privateKey);
}

/** Returns the workload: mostly normal sign-ins, with forged and broken tokens mixed in. */
function workload(
  consumer: Issuer,
  enterprise: Issuer,
  stranger: Issuer,
  now: number,
): TokenCase[] {
  const asEnterprise = minter(enterprise, now);
  const asConsumer = minter(consumer, now);
  const asStranger = minter(stranger, now);
  const consumerUser = { iss: CONSUMER_ISS, aud: PHOTOS, tid: undefined };
  return [
    { name: 'enterprise sign-in to mail', rp: 'mail', forged: false, mint: () => asEnterprise() },
    {
      name: 'consumer sign-in to photos',
      rp: 'photos',
      forged: false,
      mint: () => asConsumer(consumerUser),
    },
    {
      name: 'consumer key forging an enterprise token',
      rp: 'mail',
      forged: true,
      mint: () => asConsumer(),
    },
    {
      name: 'expired enterprise token',
      rp: 'mail',
      forged: false,
      mint: () => asEnterprise({}, undefined, -3600),
    },
    {
      name: 'token of a foreign tenant',
      rp: 'mail',
      forged: false,
      mint: () => asEnterprise({ tid: 'fabrikam' }),
    },
    {
      name: 'tampered signature',
      rp: 'mail',
      forged: false,
      mint: async () => {
        const token = await asEnterprise();
        const last = token.at(-2) === 'A' ? 'B' : 'A';
        return token.slice(0, -2) + last + token.at(-1);
      },
    },
    { name: 'unknown signing key', rp: 'mail', forged: false, mint: () => asStranger() },
  ];
}

/** Picks case i of the workload: about 80% normal sign-ins, then each other case in turn. */
function pick(cases: TokenCase[], i: number): TokenCase {
  if (i % 5 !== 4) return cases[i % 2]!;
  return cases[2 + (((i - 4) / 5) % (cases.length - 2))]!;
}

/** Returns a validator token: --token, DECLOG_TOKEN, or a new validator in the data folder. */
async function demoToken(opts: DemoOptions): Promise<string> {
  const given = opts.token ?? process.env['DECLOG_TOKEN'];
  if (given) return given;
  const store = openStore(opts.data);
  try {
    const name = `demo-${Date.now()}`;
    const token = await addValidator(store, name);
    out(`created validator ${name} in ${opts.data} (the ledger's first one is ${FIRST_VALIDATOR})`);
    return token;
  } finally {
    await store.close();
  }
}

/** Runs the CLI on its own output, printing the command and what it printed. */
function runCli(args: string[]): void {
  out(`\n$ declog ${args.join(' ')}`);
  const printed = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  out(printed.trimEnd());
}

/** declog demo [--url URL] [--data DIR] [--token T] [--count N] */
export async function demo(opts: DemoOptions): Promise<void> {
  const url = ledgerUrl(opts.url);
  const vkeyFile = join(opts.data, VERIFIER_KEY_FILE);
  if (!existsSync(vkeyFile)) {
    throw new UsageError(
      `no ledger in ${opts.data}: start one with npm start (or declog serve --init) first`,
    );
  }
  const verifierKey = readInput(vkeyFile, 'verifier key file').toString('utf8').trim();
  const client = new DeclogClient({ url, verifierKey, token: await demoToken(opts) });
  await client.checkpoint();

  const [consumer, enterprise, stranger] = await Promise.all(
    ['consumer-2026', 'enterprise-2026', 'unregistered-1'].map(newIssuer),
  );
  const trust: TrustConfig = {
    key_domains: {
      consumer: { jwks: { keys: [consumer!.jwk] } },
      enterprise: { jwks: { keys: [enterprise!.jwk] } },
    },
    relying_parties: {
      mail: {
        issuers: [ENTERPRISE_ISS],
        audiences: [MAIL],
        key_domain: 'enterprise',
        tenants: ['contoso'],
      },
      photos: { issuers: [CONSUMER_ISS], audiences: [PHOTOS], key_domain: 'consumer' },
    },
  };
  const gate = createTokenGate(trust);
  const cases = workload(consumer!, enterprise!, stranger!, Date.now());

  out(`validating ${opts.count} tokens against ${url} (policy ${gate.policyHash.slice(0, 16)}...)`);
  const counts = new Map<string, number>();
  const forged: number[] = [];
  let forgedAccepted = 0;
  let batch: { decision: DecisionInput; forged: boolean }[] = [];
  let early: number | undefined;
  const flush = async () => {
    const receipts = await client.append(batch.map((b) => b.decision));
    early ??= client.latest!.size;
    receipts.forEach((r, i) => {
      if (batch[i]!.forged) forged.push(r.index);
    });
    batch = [];
  };
  for (let i = 0; i < opts.count; i++) {
    const c = pick(cases, i);
    const result = await gate.check(await c.mint(), c.rp);
    const key = `${result.decision.decision} ${result.decision.reason}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (c.forged && result.accepted) forgedAccepted++;
    batch.push({ decision: result.decision, forged: c.forged });
    if (batch.length === 50) await flush();
  }
  if (batch.length > 0) await flush();
  const latest = client.latest!;

  out('\ndecisions appended, each receipt verified (signature, inclusion, consistency):');
  for (const [key, n] of [...counts].sort()) out(`  ${String(n).padStart(5)}  ${key}`);
  out(
    `forged consumer-key tokens for the enterprise audience: ${forged.length}, accepted: ${forgedAccepted}`,
  );
  out(`log now at tree size ${latest.size}, root ${toHex(latest.root)}`);

  const sample = [
    ...new Set([forged[0], forged.at(-1), latest.size - 1].filter((i) => i !== undefined)),
  ];
  runCli(['checkpoint', url, '--vkey', `@${vkeyFile}`]);
  for (const index of sample) {
    runCli([
      'verify',
      'inclusion',
      '--url',
      url,
      '--index',
      String(index),
      '--tree-size',
      String(latest.size),
      '--vkey',
      `@${vkeyFile}`,
    ]);
  }
  // The checkpoint that covered the first batch must be consistent with the latest one.
  runCli([
    'verify',
    'consistency',
    '--url',
    url,
    '--old',
    String(early),
    '--new',
    String(latest.size),
    '--vkey',
    `@${vkeyFile}`,
  ]);
  runCli(['search', '--url', url, '--rp', 'mail', '--key-domain', 'consumer', '--limit', '5']);
  // The gate rejects every forged token; an accept here is a defect of the gate.
  if (forgedAccepted > 0) throw new Error(`${forgedAccepted} forged tokens were accepted`);
}
