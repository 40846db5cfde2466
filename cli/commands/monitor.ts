/**
 * declog monitor: follows a log, verifies every new entry against the
 * signed checkpoint and evaluates the rules of a JSON or YAML file on each
 * decision.
 * Each alert is one JSON line on stdout, and is POSTed to --webhook when
 * given. --once stops at the current checkpoint and exits 1 if any alert
 * fired.
 */
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { MisbehaviourError } from '../../src/audit/evidence.js';
import { Monitor, type Alert, type MonitorRound } from '../../src/audit/monitor.js';
import { parseRuleFile } from '../../src/audit/rule-file.js';
import type { RuleSet } from '../../src/audit/rules.js';
import { loadState, saveState, type TreeState } from '../../src/audit/state.js';
import { NetworkError, UsageError, VerificationError } from '../../src/errors.js';
import { newVerifier } from '../../src/note.js';
import { ledgerUrl, note, outJson, readInput, usage, verifierKey } from '../options.js';
import { progressBar, sleep } from './progress-bar.js';

export interface MonitorOptions {
  vkey?: string;
  rules?: string;
  state?: string;
  once?: boolean;
  interval: number;
  webhook?: string;
  concurrency: number;
  json?: boolean;
}

/** Deadline of one webhook POST, in milliseconds. */
const WEBHOOK_TIMEOUT_MS = 5000;

function readRules(path: string | undefined): RuleSet {
  if (path === undefined)
    throw new UsageError('this command needs --rules FILE (a JSON or YAML rule file)');
  const text = readInput(path, 'rule file').toString('utf8');
  return usage(() => parseRuleFile(text, path));
}

function checkWebhook(url: string | undefined): URL | undefined {
  if (url === undefined) return undefined;
  const parsed = usage(() => new URL(url));
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--webhook ${url} is not an http or https URL`);
  }
  return parsed;
}

/** POSTs one alert; a failed delivery is reported on stderr and does not stop the monitor. */
async function deliver(webhook: URL, alert: Alert): Promise<void> {
  try {
    const res = await fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alert),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      redirect: 'error',
    });
    await res.arrayBuffer();
    if (res.status >= 300) note(`declog: webhook ${webhook.href} answered HTTP ${res.status}`);
  } catch (err) {
    note(`declog: webhook ${webhook.href} failed: ${(err as Error).message}`);
  }
}

function summary(r: MonitorRound, json: boolean | undefined): void {
  const { origin, size } = r.checkpoint.checkpoint;
  if (json) {
    note(JSON.stringify({ origin, tree_size: size, entries: r.entries, alerts: r.alerts }));
  } else {
    note(
      `monitored ${r.entries} new entries of ${origin} up to tree size ${size}: ${r.alerts} alerts`,
    );
  }
}

/** declog monitor [URL] --vkey K --rules FILE [--state FILE] [--once] [--webhook URL] */
export async function monitor(url: string | undefined, opts: MonitorOptions): Promise<void> {
  const rules = readRules(opts.rules);
  const webhook = checkWebhook(opts.webhook);
  const verifier = newVerifier(verifierKey(opts.vkey));
  const fetcher = usage(() => new LogFetcher({ url: ledgerUrl(url) }));
  const bar = progressBar('monitoring');
  const mon = new Monitor({
    fetcher,
    verifier,
    rules,
    concurrency: opts.concurrency,
    onProgress: bar.update,
  });
  const onAlert = async (alert: Alert) => {
    outJson(alert);
    if (webhook) await deliver(webhook, alert);
  };
  let state: TreeState | undefined = opts.state ? loadState(opts.state) : undefined;
  let alerts = 0;
  for (;;) {
    try {
      const r = await mon.round(state, onAlert);
      state = r.state;
      if (opts.state) saveState(opts.state, state);
      alerts += r.alerts;
      summary(r, opts.json);
    } catch (err) {
      if (err instanceof MisbehaviourError || opts.once || !(err instanceof NetworkError))
        throw err;
      note(`declog: ${err.message}; retrying in ${opts.interval} s`);
    } finally {
      bar.end();
    }
    if (opts.once) break;
    await sleep(opts.interval * 1000);
  }
  if (alerts > 0) throw new VerificationError('rule_violation', `${alerts} alerts fired`);
}
