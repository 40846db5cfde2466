// Records decisions through a spooled client, printing one line per recorded
// decision and per verified receipt, until the parent kills it.
// Arguments: ledger URL, validator token, verifier key, spool path, count.
import { DeclogClient } from '../../dist/src/client.js';

const [url, token, verifierKey, spool, count] = process.argv.slice(2);
const client = new DeclogClient({ url, token, verifierKey, spool, batchSize: 20, lingerMs: 0 });
client.on('receipt', (r) => process.stdout.write(`receipt ${r.decision.id}\n`));
client.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
for (let i = 0; i < Number(count); i++) {
  const id = await client.record({
    id: `kill-${process.pid}-${i}`,
    time: 1_717_000_000_000 + i,
    decision: 'accept',
    reason: 'ok',
    iss: 'https://login.example.com',
    aud: 'mail',
    key_domain: 'enterprise',
    kid: 'k1',
    rp: 'mail',
  });
  process.stdout.write(`recorded ${id}\n`);
}
await client.close();
process.stdout.write('done\n');
