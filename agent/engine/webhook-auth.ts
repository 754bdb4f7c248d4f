import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Checks a webhook call against the shared secret. Accepts what forges send: an HMAC-SHA256
 * of the body as `X-Hub-Signature-256: sha256=<hex>` (GitHub, Gitea, Forgejo) or
 * `X-Gitea-Signature: <hex>`, and GitLab's `X-Gitlab-Token: <secret>`. Constant-time compares.
 */
export function webhookAuthorized(
  secret: string,
  body: Buffer,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): boolean {
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const expected = createHmac('sha256', secret).update(body).digest();
  const hub = header('x-hub-signature-256') ?? header('x-appliance-signature-256');
  if (hub?.startsWith('sha256=') === true) return sameHex(hub.slice(7), expected);
  const gitea = header('x-gitea-signature');
  if (gitea !== undefined) return sameHex(gitea, expected);
  const token = header('x-gitlab-token');
  if (token !== undefined) return same(Buffer.from(token), Buffer.from(secret));
  return false;
}

/**
 * True when the call carries one of the headers {@link webhookAuthorized} checks: a call without
 * one is refused before its body is read.
 */
export function hasSignatureHeader(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  return ['x-hub-signature-256', 'x-appliance-signature-256', 'x-gitea-signature', 'x-gitlab-token'].some(
    (name) => headers[name] !== undefined,
  );
}

/** The header value a client sends: `sha256=<hex HMAC of body>`. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function sameHex(hex: string, expected: Buffer): boolean {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  return same(Buffer.from(hex, 'hex'), expected);
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
