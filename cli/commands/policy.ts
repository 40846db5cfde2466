/** Reading a c2sp.org/tlog-policy file given by --policy. */
import { InputError, UsageError } from '../../src/errors.js';
import { parsePolicy, type Policy } from '../../src/policy.js';
import { readInput } from '../options.js';

/** Reads and parses a policy file; a bad file is a usage error naming it. */
export function readPolicy(path: string): Policy {
  const text = readInput(path, 'policy file').toString('utf8');
  try {
    return parsePolicy(text);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    throw new UsageError(`${path}: ${err.message}`, { cause: err });
  }
}

/** Help text of --policy. */
export const POLICY_HELP =
  'a c2sp.org/tlog-policy file: the checkpoint must carry its witness quorum';
