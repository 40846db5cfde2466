/**
 * declog witness init and declog witness serve: a witness that cosigns the
 * checkpoints of the logs it is given (c2sp.org/tlog-witness).
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { newVerifier } from '../../src/note.js';
import { initWitnessDir, openWitnessDir, WITNESS_PUB_FILE } from '../../src/witness-dir.js';
import { startWitnessServer } from '../../server/witness.js';
import { out, outJson, usage, verifierKey } from '../options.js';
import { nextSignal } from './serve.js';

export interface WitnessInitOptions {
  data: string;
  name: string;
  json?: boolean;
}

/** declog witness init --data DIR --name NAME [--json] */
export async function witnessInit(opts: WitnessInitOptions): Promise<void> {
  const { name, verifierKey: vkey } = usage(() => initWitnessDir(opts.data, opts.name));
  if (opts.json) return outJson({ name, verifier_key: vkey });
  out(`created a witness in ${opts.data}`);
  out(`name          ${name}`);
  out(`verifier key  ${vkey}  (also in ${join(opts.data, WITNESS_PUB_FILE)})`);
}

export interface WitnessServeOptions {
  data: string;
  port: number;
  host: string;
  log: string[];
}

/** declog witness serve --data DIR --port N --log VKEY [--log VKEY ...] [--host H] */
export async function witnessServe(opts: WitnessServeOptions): Promise<void> {
  const logs = opts.log.map((key) => newVerifier(verifierKey(key)));
  const witness = usage(() => openWitnessDir(opts.data, logs));
  const signal = nextSignal();
  const logger = pino({ base: undefined });
  const server = await startWitnessServer({ witness, logger, host: opts.host, port: opts.port });
  logger.info({ signal: await signal }, 'shutting down');
  await server.close();
}
