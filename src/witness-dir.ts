/**
 * The data folder of a witness: its cosigning key (mode 0600), its
 * verifier key and its state database.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCosignatureKey, newCosigner } from './cosignature.js';
import { StorageError } from './errors.js';
import { readSecretFile, writeSecretFile } from './keys.js';
import type { Verifier } from './note.js';
import { Witness, WitnessState } from './witness-state.js';

export const WITNESS_KEY_FILE = 'witness.key';
export const WITNESS_PUB_FILE = 'witness.pub';
export const WITNESS_STATE_FILE = 'witness.db';

/** Creates a witness in `dir`: a cosignature/v1 key named `name` and an empty state. */
export function initWitnessDir(dir: string, name: string): { name: string; verifierKey: string } {
  if (existsSync(join(dir, WITNESS_KEY_FILE))) {
    throw new StorageError(
      'storage_failed',
      `${dir} already holds a witness key; choose another --data folder`,
    );
  }
  const { signerKey, verifierKey } = generateCosignatureKey(name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeSecretFile(join(dir, WITNESS_KEY_FILE), signerKey + '\n');
  writeFileSync(join(dir, WITNESS_PUB_FILE), verifierKey + '\n');
  new WitnessState(join(dir, WITNESS_STATE_FILE)).close();
  return { name, verifierKey };
}

/** Opens the witness in `dir` for the given logs, checking the key file's permissions. */
export function openWitnessDir(dir: string, logs: Verifier[]): Witness {
  const keyPath = join(dir, WITNESS_KEY_FILE);
  if (!existsSync(keyPath)) {
    throw new StorageError(
      'storage_failed',
      `no witness in ${dir}: run declog witness init --data ${dir} --name NAME first`,
    );
  }
  const cosigner = newCosigner(readSecretFile(keyPath));
  return new Witness(new WitnessState(join(dir, WITNESS_STATE_FILE)), cosigner, logs);
}
