/**
 * True when a URL's host (as `URL.hostname` gives it) is this machine: `localhost`, 127.0.0.0/8
 * or `[::1]`. Traffic to it never crosses a network, so plain http there is not in clear.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
