import { readFile, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { decryptSopsToText, loadIdentities, updateSops } from '../agent/config/sops/index.ts';

/**
 * Adds a registry login to an appliance's encrypted env.yml, keeping its data key and the
 * ciphertext of every other value: `with-registry.ts ENV_YML KEYFILE SERVER USER` with the
 * password on stdin (never in argv). The demo uses it for the local test registry.
 */
const [file, keyFile, server, username] = process.argv.slice(2);
if (file === undefined || keyFile === undefined || server === undefined || username === undefined) {
  throw new Error('usage: with-registry.ts ENV_YML KEYFILE SERVER USER  (password on stdin)');
}
const password = (await readStdin()).trim();
const { identities } = await loadIdentities(keyFile);
const encrypted = await readFile(file, 'utf8');
const doc = parseDocument(await decryptSopsToText(encrypted, { file, identities }));
doc.setIn(['registries'], [{ server, username, password }]);
await writeFile(file, await updateSops(encrypted, doc.toString({ indent: 4 }), { file, identities }));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
