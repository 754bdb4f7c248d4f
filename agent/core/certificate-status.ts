/**
 * The ingress's TLS certificates in /status and /metrics: the `CertificateExpiring` condition and
 * the expiry gauge. Pure: the driver (drivers/ingress/certificates.ts) reads them from Caddy's storage.
 */

/** One certificate the ingress holds (the leaf of a stored chain). */
export interface CertificateInfo {
  /** DNS names it is valid for (subject alternative names), first the one it is stored under. */
  names: string[];
  /** Common name of the certificate's issuer, e.g. "R11" or "Caddy Local Authority - ECC Intermediate". */
  issuer: string;
  /** ISO times. */
  notBefore: string;
  notAfter: string;
  /** Signed by Caddy's own CA (the self-signed fallback): no browser trusts it; Caddy renews it by itself within hours. */
  internal: boolean;
  /**
   * On a certificate of the internal CA: why the last ACME order for its name failed, as Caddy
   * logged it, and when ACME is tried again (at the next renewal of this short-lived certificate).
   */
  acmeFailure?: { at: string; error: string; retry: string };
}

/** The `CertificateExpiring` condition (same shape as status.ts's `Condition`). */
export interface CertificateCondition {
  type: 'CertificateExpiring';
  status: boolean;
  reason: 'Expiring' | 'Expired' | 'Valid' | 'NoPublicCertificate';
  message: string;
  since: string;
}

/** Raised when a name's newest public certificate has less than this left. */
export const EXPIRING_DAYS = 14;
const DAY_MS = 86_400_000;

/**
 * `CertificateExpiring` is true when, for some name, the public (not internal) certificate that
 * lasts longest ends within 14 days. Internal certificates are left out: Caddy's own CA issues
 * them for hours and renews them itself. `since` comes from the certificates (when the limit was
 * crossed, or when the soonest one was issued), so the condition is the same on every read.
 */
export function certificateExpiring(certs: readonly CertificateInfo[], now: Date): CertificateCondition {
  const best = new Map<string, CertificateInfo>();
  for (const c of certs) {
    if (c.internal) continue;
    for (const name of c.names) {
      const held = best.get(name);
      if (held === undefined || Date.parse(c.notAfter) > Date.parse(held.notAfter)) best.set(name, c);
    }
  }
  const soonest = [...best.entries()].sort(
    ([a, x], [b, y]) => Date.parse(x.notAfter) - Date.parse(y.notAfter) || a.localeCompare(b),
  );
  const first = soonest[0];
  if (first === undefined) {
    return {
      type: 'CertificateExpiring',
      status: false,
      reason: 'NoPublicCertificate',
      message: certs.length === 0 ? 'the ingress holds no certificate' : 'only certificates of the internal CA',
      since: now.toISOString(),
    };
  }
  const limit = now.getTime() + EXPIRING_DAYS * DAY_MS;
  const late = soonest.filter(([, c]) => Date.parse(c.notAfter) < limit);
  if (late.length === 0) {
    const [name, cert] = first;
    return {
      type: 'CertificateExpiring',
      status: false,
      reason: 'Valid',
      message: `the first certificate to end is ${name}'s, in ${daysLeft(cert, now)} days`,
      since: cert.notBefore,
    };
  }
  const expired = late.some(([, c]) => Date.parse(c.notAfter) <= now.getTime());
  const [, cert] = first;
  return {
    type: 'CertificateExpiring',
    status: true,
    reason: expired ? 'Expired' : 'Expiring',
    message: late
      .map(([name, c]) =>
        Date.parse(c.notAfter) <= now.getTime()
          ? `${name} expired ${c.notAfter}`
          : `${name} ends in ${daysLeft(c, now)} days`,
      )
      .join('; '),
    since: new Date(Date.parse(cert.notAfter) - EXPIRING_DAYS * DAY_MS).toISOString(),
  };
}

/** Prometheus text lines, newline-terminated (empty without certificates): one expiry gauge per certificate. */
export function certificateMetrics(certs: readonly CertificateInfo[], appliance: string): string {
  if (certs.length === 0) return '';
  const name = 'appliance_certificate_expiry_timestamp_seconds';
  // One series per (name, issuer): of two certificates that would share one, the longer lasting counts.
  const series = new Map<string, number>();
  for (const c of certs) {
    const labels = `{appliance="${label(appliance)}",name="${label(c.names[0] ?? '')}",issuer="${label(c.issuer)}"}`;
    series.set(labels, Math.max(series.get(labels) ?? 0, Math.floor(Date.parse(c.notAfter) / 1000)));
  }
  const lines = [
    `# HELP ${name} When each TLS certificate of the ingress ends (not after), by its first name and issuer.`,
    `# TYPE ${name} gauge`,
    ...[...series].map(([labels, value]) => `${name}${labels} ${value}`),
  ];
  return `${lines.join('\n')}\n`;
}

function daysLeft(cert: CertificateInfo, now: Date): number {
  return Math.floor((Date.parse(cert.notAfter) - now.getTime()) / DAY_MS);
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
