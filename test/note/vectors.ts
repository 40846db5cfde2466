/** Loads the JSON vectors of test/vectors/note. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VECTOR_DIR = new URL('../vectors/note/', import.meta.url).pathname;

/** Reads one vector file, parsed as JSON. */
export function loadVector<T>(name: string): T {
  return JSON.parse(readFileSync(join(VECTOR_DIR, name), 'utf8')) as T;
}

export interface MalformedVector {
  name: string;
  description: string;
  note?: string;
  note_base64?: string;
  code: string;
  go_open: string;
}

/** Reads every malformed/*.json case. Notes that are not valid UTF-8 are in `note_base64`. */
export function loadMalformed(): MalformedVector[] {
  const dir = join(VECTOR_DIR, 'malformed');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      ...loadVector<Omit<MalformedVector, 'name'>>(`malformed/${f}`),
      name: f.slice(0, -5),
    }));
}

export interface GoSumdbNote {
  peter: { signer_key: string; verifier_key: string; key_id: string };
  enoch: { signer_key: string; verifier_key: string; key_id: string };
  text: string;
  peter_sig: string;
  enoch_sig: string;
  signed: string;
  both_signed: string;
  bad_verifier_keys: { key: string; why: string }[];
}

export interface GoSign {
  keys: { name: string; seed: string; signer_key: string; verifier_key: string }[];
  notes: { name: string; description: string; signers: number[]; text: string; signed: string }[];
}

export interface C2spExamples {
  signed_note_example: { verifier_key: string; key_id: string; text: string; signed: string };
  signed_note_intro: { text: string; signed: string; key_name: string; key_id: string };
  cosigned_checkpoint: {
    signed: string;
    origin: string;
    size: number;
    root_base64: string;
    log_key_id: string;
    witness_key_id: string;
    witness_timestamp: number;
  };
  cosignature_message: { timestamp: number; text: string; message: string };
  cosignature_timestamps: { description: string; base64: string; timestamp: number | null }[];
  cosignature_verifier_keys: { description: string; key: string; cosignature: boolean }[];
  tlog_proof_example: { head: string; index: number; hashes: number };
}

/** Returns the base64 part of a key string: everything after the key ID, '+' included. */
export function keyMaterial(key: string): string {
  const parts = key.split('+');
  return parts.slice(key.startsWith('PRIVATE+KEY+') ? 4 : 2).join('+');
}
