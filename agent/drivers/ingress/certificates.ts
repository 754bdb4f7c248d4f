import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateInfo } from '../../core/certificate-status.ts';
import { ACME_LOG_FILE } from '../../core/ingress-caddy.ts';

/** Caddy keeps the certificates of its internal CA under this issuer directory. */
const INTERNAL_ISSUER_DIR = 'local';

/**
 * The certificates in Caddy's storage (`<storage>/certificates/<issuer>/<name>/<name>.crt`, the
 * chain with its leaf first), sorted by name then end. A storage without certificates (Caddy has
 * not started yet) gives none; a file that is not a certificate is left out: Caddy would not
 * serve it either.
 */
export async function readCertificates(storageRoot: string): Promise<CertificateInfo[]> {
  const base = join(storageRoot, 'certificates');
  const out: CertificateInfo[] = [];
  for (const issuerDir of await entries(base)) {
    for (const name of await entries(join(base, issuerDir))) {
      const pem = await readFile(join(base, issuerDir, name, `${name}.crt`), 'utf8').catch(() => undefined);
      if (pem === undefined) continue;
      const info = certificateInfo(pem, name, issuerDir === INTERNAL_ISSUER_DIR);
      if (info !== undefined) out.push(info);
    }
  }
  const failures = await acmeFailures(storageRoot);
  for (const c of out) {
    const failed = c.internal ? failures.get(c.names[0] ?? '') : undefined;
    // A failure older than the public certificate of the same name is over.
    const over = out.some((p) => !p.internal && p.names.includes(c.names[0] ?? '') && p.notBefore > (failed?.at ?? ''));
    if (failed !== undefined && !over) {
      const retry = `ACME is tried again when Caddy renews this certificate, by ${renewalOf(c)}`;
      c.acmeFailure = { ...failed, retry };
    }
  }
  return out.sort((a, b) => (a.names[0] ?? '').localeCompare(b.names[0] ?? '') || a.notAfter.localeCompare(b.notAfter));
}

/** How much of Caddy's log is read: the last orders are at its end. */
const LOG_TAIL_BYTES = 256 * 1024;
const ERROR_CHARS = 400;

/**
 * The last failed ACME order per name, from Caddy's certificate log (see renderCaddyConfig):
 * `could not get certificate from issuer` lines of an issuer other than the internal CA.
 */
export async function acmeFailures(storageRoot: string): Promise<Map<string, { at: string; error: string }>> {
  const out = new Map<string, { at: string; error: string }>();
  const text = await readTail(join(storageRoot, ACME_LOG_FILE), LOG_TAIL_BYTES);
  for (const line of text.split('\n')) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const { identifier, issuer, error, ts } = entry;
    if (entry['msg'] !== 'could not get certificate from issuer') continue;
    if (typeof identifier !== 'string' || typeof error !== 'string' || typeof ts !== 'number') continue;
    // The internal CA's key is `local`; an ACME issuer's is made of its directory URL.
    if (issuer === 'local') continue;
    out.set(identifier, { at: new Date(ts * 1000).toISOString(), error: error.slice(0, ERROR_CHARS) });
  }
  return out;
}

async function readTail(file: string, bytes: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  });
  return text.length > bytes ? text.slice(-bytes) : text;
}

/** When Caddy renews a certificate: a third of its lifetime before its end. */
function renewalOf(c: CertificateInfo): string {
  const start = Date.parse(c.notBefore);
  const end = Date.parse(c.notAfter);
  return new Date(end - (end - start) / 3).toISOString();
}

function certificateInfo(pem: string, storedAs: string, internal: boolean): CertificateInfo | undefined {
  let cert: X509Certificate;
  try {
    // The first certificate of the chain: the leaf.
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const names = [...new Set([storedAs, ...sans].filter((n) => sans.includes(n)))];
  return {
    names: names.length > 0 ? names : [storedAs],
    issuer: commonName(cert.issuer) ?? cert.issuer.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    internal,
  };
}

function commonName(dn: string): string | undefined {
  return dn
    .split('\n')
    .find((l) => l.startsWith('CN='))
    ?.slice(3);
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
