import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../agent/lib/exec.ts';

/** A running ACME test server: Debian's pebble, with pebble-challtestsrv answering DNS with 127.0.0.1. */
export interface Pebble {
  directory: string;
  /** PEM file of the certificate pebble's own HTTPS listener uses (what an ACME client must trust). */
  listenerCertFile: string;
  /** PEM of the root that signs the certificates pebble issues. */
  issuingRoot(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts pebble (no sleeps before validation) and its DNS, its directory on `host`. Validation requests for HTTP-01 go to
 * `httpPort` on 127.0.0.1: the ingress under test listens there.
 */
export async function startPebble(options: { httpPort: number; port?: number; host?: string }): Promise<Pebble> {
  // `host`: an address of this machine containers reach (the directory is given with it).
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'pebble-'));
  const port = options.port ?? 24000;
  const dnsPort = port + 53;
  const certFile = join(dir, 'cert.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', certFile, '-subj', '/CN=pebble', '-days', '2',
    '-addext', `subjectAltName=DNS:localhost,IP:127.0.0.1${host === '127.0.0.1' ? '' : `,IP:${host}`}`,
  ]); // prettier-ignore
  await writeFile(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `${host}:${port}`,
        managementListenAddress: `127.0.0.1:${port + 1}`,
        certificate: certFile,
        privateKey: join(dir, 'key.pem'),
        httpPort: options.httpPort,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const children: ChildProcess[] = [
    spawn('pebble-challtestsrv', [
      '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-management', `127.0.0.1:${port + 55}`, '-defaultIPv6', '',
    ], { stdio: 'ignore' }), // prettier-ignore
    spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
      stdio: 'ignore',
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1' },
    }),
  ];
  const ca = await readFile(certFile);
  const get = (url: string): Promise<string> =>
    new Promise((resolve, reject) => {
      https
        .get(url, { ca }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (res.statusCode === 200) resolve(body);
            else reject(new Error(`${url}: HTTP ${res.statusCode ?? '?'}`));
          });
        })
        .on('error', reject);
    });
  const directory = `https://${host}:${port}/dir`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await get(directory);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    directory,
    listenerCertFile: certFile,
    issuingRoot: () => get(`https://127.0.0.1:${port + 1}/roots/0`),
    async stop() {
      for (const c of children) c.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
