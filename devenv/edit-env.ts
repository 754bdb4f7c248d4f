import { readFile, writeFile } from 'node:fs/promises';
import { parseDocument, type Document } from 'yaml';
import { decryptSopsToText, loadIdentities, updateSops } from '../agent/sops/index.ts';

/**
 * Edits an encrypted env.yml in place, as an operator would with `sops`: decrypts with
 * `keyFile`, lets `edit` change the YAML document, and re-encrypts keeping the data key and
 * the ciphertext of every unchanged value (small diffs).
 */
export async function editEnv(file: string, keyFile: string, edit: (doc: Document) => void): Promise<void> {
  const { identities } = await loadIdentities(keyFile);
  const encrypted = await readFile(file, 'utf8');
  const doc = parseDocument(await decryptSopsToText(encrypted, { file, identities }));
  edit(doc);
  await writeFile(file, await updateSops(encrypted, doc.toString({ indent: 4 }), { file, identities }));
}

/** Adds a registry login (server, user, password) to an env.yml's `registries`. */
export function registryLogin(server: string, username: string, password: string): (doc: Document) => void {
  return (doc) => {
    doc.setIn(['registries'], [{ server, username, password }]);
  };
}
