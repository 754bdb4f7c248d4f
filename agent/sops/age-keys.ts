import { stat } from 'node:fs/promises';
import { isAgentError } from '../core/errors.ts';
import { readRegularFile } from '../lib/fs.ts';
import { AgeFileError, decryptArmoredX25519, x25519Identity, type X25519Identity } from './age-x25519.ts';
import type { ConfigIssue } from '../core/result.ts';
import { sopsError } from './errors.ts';
import type { AgeEntry } from './metadata.ts';

const IDENTITY_RE = /^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/;

/**
 * Reads an age key file: one identity per line (`AGE-SECRET-KEY-1…` X25519 or
 * `AGE-SECRET-KEY-PQ-1…` post-quantum), blank and `#` lines ignored. Errors name the file and
 * line, never the key. Warns when the file is readable by group or others.
 */
export async function loadIdentities(path: string): Promise<{ identities: string[]; warnings: ConfigIssue[] }> {
  let text: string;
  let mode: number;
  try {
    mode = (await stat(path)).mode;
    text = await readRegularFile(path);
  } catch (err) {
    if (isAgentError(err))
      throw sopsError('AgeIdentityMissing', path, 'identity file is not a regular file', { reason: err.code });
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const problem = code === 'ENOENT' ? 'identity file not found' : `cannot read identity file (${code})`;
    throw sopsError('AgeIdentityMissing', path, problem, { reason: code });
  }
  const identities: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `line ${String(index + 1)}`;
    if (line.startsWith('AGE-PLUGIN-'))
      throw sopsError('AgeIdentityInvalid', path, `${where}: age plugin identities are not supported`, {
        line: index + 1,
      });
    if (!IDENTITY_RE.test(line) || !(await isValidIdentity(line)))
      throw sopsError('AgeIdentityInvalid', path, `${where}: not a valid age identity`, { line: index + 1 });
    identities.push(line);
  }
  if (identities.length === 0) throw sopsError('AgeIdentityInvalid', path, 'no age identity in the file');
  const warnings: ConfigIssue[] =
    (mode & 0o077) === 0
      ? []
      : [
          {
            file: path,
            path: '',
            message: `identity file is readable by group or others (mode ${(mode & 0o777).toString(8)}); use chmod 600`,
          },
        ];
  return { identities, warnings };
}

// Loaded when needed: X25519 identities are opened with node:crypto (age-x25519.ts), and the
// daemon never needs the package's post-quantum, P-256 and scrypt code in memory.
const loadAge = (): Promise<typeof import('age-encryption')> => import('age-encryption');

async function isValidIdentity(identity: string): Promise<boolean> {
  if (x25519Identity(identity) !== undefined) return true;
  try {
    await (await loadAge()).identityToRecipient(identity);
    return true;
  } catch {
    return false;
  }
}

/** The public recipient (`age1…`/`age1pq1…`) of an identity; the error never echoes the key. */
export async function identityToRecipient(identity: string): Promise<string> {
  try {
    return await (await loadAge()).identityToRecipient(identity);
  } catch {
    throw sopsError('AgeIdentityInvalid', '(identity)', 'not a valid age identity');
  }
}

/**
 * The identity file to use: `--identity`, else `APPLIANCE_AGE_IDENTITY_FILE`, else
 * `SOPS_AGE_KEY_FILE`; undefined when none is set.
 */
export function resolveIdentityFile(
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  for (const candidate of [explicit, env['APPLIANCE_AGE_IDENTITY_FILE'], env['SOPS_AGE_KEY_FILE']])
    if (candidate !== undefined && candidate !== '') return candidate;
  return undefined;
}

/** A new age identity and its recipient: X25519 by default, ML-KEM-768+X25519 when asked. */
export async function generateIdentity(
  options: { postQuantum?: boolean } = {},
): Promise<{ identity: string; recipient: string }> {
  const age = await loadAge();
  const identity = options.postQuantum ? await age.generateHybridIdentity() : await age.generateIdentity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

/**
 * Wraps the data key for one recipient as its own armored age file, as sops does. Only
 * X25519 (`age1…`) and post-quantum (`age1pq1…`) recipients are accepted.
 */
export async function wrapDataKey(dataKey: Uint8Array, recipient: string, file: string): Promise<AgeEntry> {
  const age = await loadAge();
  const encrypter = new age.Encrypter();
  try {
    if (!recipient.startsWith('age1') || recipient.startsWith('age1tag')) throw new Error('unsupported');
    encrypter.addRecipient(recipient);
  } catch {
    // Only a public `age1…` string is safe to repeat: a pasted identity must not be echoed.
    const shown = /^age1[0-9a-z]+$/.test(recipient) ? `: ${recipient.slice(0, 80)}` : ' (expected age1…)';
    throw sopsError('SopsBadRecipient', file, `not a supported age recipient${shown}`);
  }
  return { recipient, enc: age.armor.encode(await encrypter.encrypt(dataKey)) };
}

/**
 * The 32-byte data key from the first entry one of the identities opens, else undefined. An
 * entry our identity opens but whose header MAC or payload fails is `SopsAgeTampered`; when no
 * entry opens and one was malformed, that is `SopsAgeMalformed` rather than "no identity".
 */
export async function unwrapDataKey(
  entries: readonly AgeEntry[],
  identities: readonly string[],
  file: string,
): Promise<Uint8Array | undefined> {
  if (identities.length === 0) return undefined;
  const native: X25519Identity[] = [];
  const others: string[] = [];
  for (const identity of identities) {
    const x = x25519Identity(identity);
    if (x === undefined) others.push(identity);
    else native.push(x);
  }
  const viaPackage = others.length === 0 ? undefined : await packageDecrypter(others, identities, file);
  let malformedEntry: { recipient: string; reason: string } | undefined;
  for (const entry of entries) {
    try {
      const key = decryptArmoredX25519(entry.enc, native) ?? (await viaPackage?.(entry.enc));
      if (key === undefined) continue;
      if (key.length === 32) return key;
      throw new AgeFileError('tampered', `data key of ${String(key.length)} bytes`);
    } catch (err) {
      const problem = err instanceof AgeFileError ? err : packageProblem(err);
      if (problem === undefined) continue;
      if (problem.kind === 'tampered') {
        throw sopsError(
          'SopsAgeTampered',
          file,
          `the age-encrypted data key for ${shownRecipient(entry.recipient)} fails authentication (${problem.message}): the file was tampered with or damaged`,
          { recipient: shownRecipient(entry.recipient) },
        );
      }
      // A malformed entry for another recipient does not stop ours from opening.
      malformedEntry ??= { recipient: shownRecipient(entry.recipient), reason: problem.message };
    }
  }
  if (malformedEntry !== undefined) {
    throw sopsError(
      'SopsAgeMalformed',
      file,
      `the age-encrypted data key for ${malformedEntry.recipient} is malformed (${malformedEntry.reason}) and no other entry opens with the given identities`,
      { recipient: malformedEntry.recipient },
    );
  }
  return undefined;
}

/** age-encryption's errors: undefined for "not for these identities". */
function packageProblem(err: unknown): AgeFileError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (/no identity matched/.test(message)) return undefined;
  return new AgeFileError(/HMAC|decrypt|tag/i.test(message) ? 'tampered' : 'malformed', message);
}

function shownRecipient(recipient: string): string {
  return /^age1[0-9a-z]+$/.test(recipient) ? recipient.slice(0, 80) : 'an unreadable recipient';
}

/** age-encryption's decrypter for the identities node:crypto does not open (post-quantum). */
async function packageDecrypter(
  identities: readonly string[],
  all: readonly string[],
  file: string,
): Promise<(armored: string) => Promise<Uint8Array>> {
  const age = await loadAge();
  const decrypter = new age.Decrypter();
  for (const identity of identities) {
    try {
      decrypter.addIdentity(identity);
    } catch {
      const n = all.indexOf(identity) + 1;
      throw sopsError('AgeIdentityInvalid', file, `identity #${String(n)} is not a valid age identity`);
    }
  }
  return async (armored) => readStream(await decrypter.decrypt(streamOf(age.armor.decode(armored))));
}

// Given bytes, age reads its output with `new Response(stream)`, which loads Node's fetch
// implementation (undici, ~4 MB resident) into the daemon; streams in and out avoid that.
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

async function readStream(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  // A plain array, not a Buffer: small Buffers share a pool slab, and this holds a key.
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
