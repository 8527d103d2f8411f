import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A throw-away PKI for tests of etcd over TLS, made at run time with openssl (no key is committed):
 * a CA, a server certificate for 127.0.0.1 (also usable for etcd's peer TLS: serverAuth and
 * clientAuth), a client certificate signed by the same CA, and a second, unrelated CA — the "wrong
 * CA" a misconfigured host trusts. EC P-256 keys: the whole set takes about 0.1 s.
 */
export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed nothing etcd presents or trusts. */
  readonly otherCa: string;
  /** A client certificate signed by otherCa: well formed, but not one etcd trusts. */
  readonly otherClientCert: string;
  readonly otherClientKey: string;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=liveset test ${name}`, '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, cn: string, ext: string, ca = 'ca'): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

/** Writes the PKI into `dir` (created if needed). `clientCn` is the client certificate's CN (etcd takes it as the user name under --client-cert-auth when no user is given). */
export function makeTestPki(dir: string, opts: { clientCn?: string } = {}): TestPki {
  mkdirSync(dir, { recursive: true });
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', 'etcd test member', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n');
  const client = 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
  makeLeaf(dir, 'client', opts.clientCn ?? 'liveset test client', client);
  makeLeaf(dir, 'other-client', opts.clientCn ?? 'liveset test client', client, 'other-ca');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    otherCa: join(dir, 'other-ca.pem'),
    otherClientCert: join(dir, 'other-client.pem'),
    otherClientKey: join(dir, 'other-client.key'),
  };
}

/** Whether openssl can be run here (the TLS tests need it to make their certificates). */
export function opensslMissing(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    const why = 'openssl is not installed (the etcd TLS tests make their certificates with it)';
    if (process.env['CI']) throw new Error(`${why}: CI must have it`);
    return why;
  }
}
