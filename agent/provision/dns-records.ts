/** One DNS record an operator has to create for an appliance. */
export interface DnsRecord {
  name: string;
  type: 'A' | 'MX' | 'TXT' | 'PTR';
  value: string;
}

/**
 * The records the original appliance listed for a new site: A, MX, SPF, DMARC, the DKIM key
 * (public half) and a PTR for the address. All public.
 */
export function dnsRecords(domain: string, dkim: { selector: string; txt: string }): DnsRecord[] {
  const fqdn = `${domain}.`;
  return [
    { name: fqdn, type: 'A', value: '<public IPv4 address of the appliance>' },
    { name: fqdn, type: 'MX', value: `10 ${fqdn}` },
    { name: fqdn, type: 'TXT', value: quoteTxt('v=spf1 a mx -all') },
    { name: `_dmarc.${fqdn}`, type: 'TXT', value: quoteTxt('v=DMARC1; p=quarantine') },
    { name: `${dkim.selector}._domainkey.${fqdn}`, type: 'TXT', value: quoteTxt(dkim.txt) },
    { name: '<reverse name of the address>', type: 'PTR', value: fqdn },
  ];
}

/** Records as zone-file lines, aligned. */
export function formatDnsRecords(records: readonly DnsRecord[], indent = ''): string {
  const width = Math.max(...records.map((r) => r.name.length));
  return records.map((r) => `${indent}${r.name.padEnd(width)}  ${r.type.padEnd(3)}  ${r.value}\n`).join('');
}

/** A TXT value as DNS character strings of at most 250 characters each (as the original split it). */
export function quoteTxt(text: string): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 250) parts.push(`"${text.slice(i, i + 250)}"`);
  return parts.join(' ');
}
