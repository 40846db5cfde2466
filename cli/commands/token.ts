/** declog token add: creates a validator and prints its bearer token, once. */
import { openStore } from '../../src/data-dir.js';
import { addValidator } from '../../src/ledger.js';
import { note, out, outJson, TOKEN_SHOWN_ONCE, usage } from '../options.js';

export interface TokenAddOptions {
  data: string;
  json?: boolean;
}

/** declog token add NAME [--data DIR] [--json] */
export async function tokenAdd(name: string, opts: TokenAddOptions): Promise<void> {
  const store = openStore(opts.data);
  let token: string;
  try {
    token = await usage(() => addValidator(store, name));
  } finally {
    await store.close();
  }
  if (opts.json) {
    outJson({ validator: name, token });
  } else {
    out(`token  ${token}  (validator ${name})`);
  }
  note(TOKEN_SHOWN_ONCE);
}
