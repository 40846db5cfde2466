import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGateSuite } from '../../cli/commands/gate-check.js';
import { createTokenGate, type TrustConfig } from '../../src/token-gate.js';

const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
const DIR = mkdtempSync(join(tmpdir(), 'declog-gate-check-'));

/** Two domains behind jwks_uri; the suite replaces their keys, so nothing is fetched. */
const CONFIG: TrustConfig = {
  key_domains: {
    consumer: { jwks_uri: 'https://login.consumer.example/keys' },
    enterprise: { jwks_uri: 'https://login.enterprise.example/keys' },
  },
  relying_parties: {
    mail: {
      issuers: ['https://login.enterprise.example'],
      audiences: ['https://mail.enterprise.example'],
      key_domain: 'enterprise',
      tenants: ['contoso'],
    },
    photos: {
      issuers: ['https://login.consumer.example'],
      audiences: ['https://photos.consumer.example'],
      key_domain: 'consumer',
    },
  },
};

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

function configFile(name: string, content: unknown): string {
  const path = join(DIR, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('gate-check', () => {
  it('passes a sound gate', async () => {
    const rows = await runGateSuite(CONFIG);
    expect(rows.filter((r) => !r.pass)).toEqual([]);
    const mail = rows.filter((r) => r.rp === 'mail');
    expect(mail.map((r) => r.actual)).toEqual([
      'accept ok',
      'reject key_domain_mismatch',
      'reject issuer_not_allowed',
      'reject audience_mismatch',
      'reject tenant_mismatch',
      'reject tenant_mismatch',
      'reject unknown_kid',
      'reject malformed',
      'reject malformed',
      'reject expired',
    ]);
    const skipped = rows.filter((r) => r.expected === 'skip').map((r) => `${r.rp} ${r.case}`);
    expect(skipped).toEqual(['photos missing tenant', 'photos foreign tenant']);
  });

  it('single key domain', async () => {
    const config: TrustConfig = {
      key_domains: { enterprise: CONFIG.key_domains['enterprise']! },
      relying_parties: { mail: CONFIG.relying_parties['mail']! },
    };
    const rows = await runGateSuite(config);
    expect(rows[1]).toMatchObject({
      case: expect.stringContaining('gate-check-foreign key'),
      pass: true,
    });
  });

  it('flags a gate that ignores the key domain', async () => {
    const rows = await runGateSuite(CONFIG, ['mail'], (config, now) => {
      const gate = createTokenGate(config, { now });
      return {
        policyHash: gate.policyHash,
        check: async (token, rp) => {
          const result = await gate.check(token, rp);
          if (result.decision.reason !== 'key_domain_mismatch') return result;
          return {
            ...result,
            accepted: true,
            decision: { ...result.decision, decision: 'accept', reason: 'ok' },
          };
        },
      };
    });
    expect(rows.filter((r) => !r.pass).map((r) => r.case)).toEqual([
      'consumer key for audience https://mail.enterprise.example',
    ]);
  });

  it('flags a gate that rejects the valid token', async () => {
    const rows = await runGateSuite(CONFIG, ['photos'], (config, now) => {
      const gate = createTokenGate(config, { now });
      return { policyHash: gate.policyHash, check: (token) => gate.check(token, 'mail') };
    });
    expect(rows.filter((r) => !r.pass).map((r) => r.case)).toEqual(['valid token']);
  });

  it('CLI exits 0 with a table', () => {
    const { status, stdout } = run(['gate-check', '--config', configFile('ok.json', CONFIG)]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^relying party\s+case\s+expected\s+actual\s+result$/m);
    expect(stdout).toMatch(
      /^mail\s+consumer key for audience \S+\s+reject\s+reject key_domain_mismatch\s+ok$/m,
    );
  });

  it('CLI json lines', () => {
    const path = configFile('json.json', CONFIG);
    const { status, stdout } = run(['gate-check', '--config', path, '--rp', 'mail', '--json']);
    expect(status).toBe(0);
    const rows = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.rp === 'mail' && r.pass === true)).toBe(true);
  });

  it('CLI usage errors', () => {
    expect(run(['gate-check', '--config', configFile('bad.json', '{')]).status).toBe(2);
    expect(run(['gate-check', '--config', join(DIR, 'missing.json')]).status).toBe(2);
    const path = configFile('rp.json', CONFIG);
    const unknown = run(['gate-check', '--config', path, '--rp', 'calendar']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('relying party calendar');
    const broken = {
      ...CONFIG,
      relying_parties: { mail: { ...CONFIG.relying_parties['mail'], key_domain: 'x' } },
    };
    expect(run(['gate-check', '--config', configFile('domain.json', broken)]).status).toBe(2);
    const empty = { key_domains: {}, relying_parties: {} };
    const nothing = run(['gate-check', '--config', configFile('empty.json', empty)]);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain('no relying parties');
  });
});
