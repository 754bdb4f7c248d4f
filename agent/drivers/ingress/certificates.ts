import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateInfo } from '../../core/certificate-status.ts';

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
  return out.sort((a, b) => (a.names[0] ?? '').localeCompare(b.names[0] ?? '') || a.notAfter.localeCompare(b.notAfter));
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
