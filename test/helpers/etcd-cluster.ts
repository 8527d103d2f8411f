import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './liveset.ts';

/**
 * A real etcd cluster (Debian `etcd-server`, 3.4) on 127.0.0.1 for tests and benchmarks: ports from
 * the OS, data in a temporary directory, members stopped by pid. Facts it relies on
 * (spec/clients-and-toolchain.md §B.1): start-up is bimodal (≈0.4 s or ≈2.4 s), SIGTERM takes ≈9 s
 * because of leadership transfer so members are SIGKILLed, a restarted member must reuse its data dir
 * with `--initial-cluster-state existing`, and any ETCD_* variable that shadows a flag is fatal.
 * With `tls`, the client URLs are https:// (and the peer URLs too with `tls.peer`), served with the
 * given certificate; with `tls.clientCertAuth` etcd demands a client certificate signed by `tls.ca`.
 */
export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  process?: ChildProcess;
}

const ETCD_BIN = process.env.LIVESET_ETCD_BIN ?? '/usr/bin/etcd';

/** PEM files for an etcd served over TLS (see etcd-pki.ts for a set made at run time). */
export interface EtcdTls {
  /** etcd's --trusted-ca-file: the CA client certificates must chain to (and the harness trusts). */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** etcd's --client-cert-auth: refuse clients without a certificate signed by `ca`. */
  readonly clientCertAuth?: boolean;
  /** Also TLS between members (the same certificate: it must allow serverAuth and clientAuth). */
  readonly peer?: boolean;
  /** The client certificate the harness itself presents (health checks, leader lookup). */
  readonly clientCert?: string;
  readonly clientKey?: string;
}

export class EtcdCluster {
  private constructor(
    readonly dir: string,
    readonly members: EtcdMember[],
    private readonly token: string,
    readonly tls?: EtcdTls,
  ) {}

  /** Starts `size` members and waits (up to `timeoutMs`) until every one reports healthy. */
  static async start(opts: { size?: number; timeoutMs?: number; tls?: EtcdTls } = {}): Promise<EtcdCluster> {
    const size = opts.size ?? 3;
    const dir = mkdtempSync(join(tmpdir(), 'liveset-etcd-'));
    const ports = await freePorts(size * 2);
    const members: EtcdMember[] = Array.from({ length: size }, (_, i) => ({
      name: `m${i + 1}`,
      clientUrl: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${ports[i * 2]}`,
      peerUrl: `${opts.tls?.peer ? 'https' : 'http'}://127.0.0.1:${ports[i * 2 + 1]}`,
      dataDir: join(dir, `m${i + 1}`),
      logFile: join(dir, `m${i + 1}.log`),
    }));
    const cluster = new EtcdCluster(dir, members, `liveset-${process.pid}-${Date.now()}`, opts.tls);
    try {
      for (const m of members) cluster.spawnMember(m, 'new');
      await cluster.waitHealthy(members, opts.timeoutMs ?? 20_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  member(name: string): EtcdMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no etcd member ${name}`);
    return m;
  }

  private spawnMember(m: EtcdMember, state: 'new' | 'existing'): void {
    mkdirSync(m.dataDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
    const log = openSync(m.logFile, 'a');
    const child = spawn(
      ETCD_BIN,
      [
        '--name', m.name,
        '--data-dir', m.dataDir,
        '--listen-client-urls', m.clientUrl,
        '--advertise-client-urls', m.clientUrl,
        '--listen-peer-urls', m.peerUrl,
        '--initial-advertise-peer-urls', m.peerUrl,
        '--initial-cluster', this.members.map((x) => `${x.name}=${x.peerUrl}`).join(','),
        '--initial-cluster-token', this.token,
        '--initial-cluster-state', state,
        '--heartbeat-interval', '100',
        '--election-timeout', '1000',
        '--logger', 'zap',
        '--log-level', 'warn',
        ...this.tlsFlags(),
      ],
      { env, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    child.on('error', () => {});
    m.process = child;
  }

  private tlsFlags(): string[] {
    const t = this.tls;
    if (t === undefined) return [];
    return [
      '--cert-file', t.cert, '--key-file', t.key, '--trusted-ca-file', t.ca,
      ...(t.clientCertAuth ? ['--client-cert-auth'] : []),
      ...(t.peer ? ['--peer-cert-file', t.cert, '--peer-key-file', t.key, '--peer-trusted-ca-file', t.ca, '--peer-client-cert-auth'] : []),
    ];
  }

  /** A JSON request to a member's client URL (over TLS when the cluster serves it, with the harness's client certificate). */
  private json(m: EtcdMember, path: string, body?: string): Promise<unknown> {
    const url = new URL(path, m.clientUrl);
    const t = this.tls;
    return new Promise((resolve, reject) => {
      const opts = {
        method: body === undefined ? 'GET' : 'POST',
        timeout: 1000,
        ...(t ? { ca: readFileSync(t.ca), ...(t.clientCert ? { cert: readFileSync(t.clientCert) } : {}), ...(t.clientKey ? { key: readFileSync(t.clientKey) } : {}) } : {}),
      };
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${url.href}: no answer within 1 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Resolves when every member answers /health with health "true". */
  async waitHealthy(members: readonly EtcdMember[] = this.members, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(members);
    while (pending.size > 0) {
      for (const m of [...pending]) {
        if (m.process?.exitCode !== null && m.process?.exitCode !== undefined) {
          throw new Error(`etcd member ${m.name} exited with ${m.process.exitCode}: ${this.tail(m)}`);
        }
        if (await this.healthy(m)) pending.delete(m);
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`etcd members not healthy after ${timeoutMs} ms: ${[...pending].map((m) => `${m.name}: ${this.tail(m)}`).join('; ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async healthy(m: EtcdMember): Promise<boolean> {
    try {
      const body = (await this.json(m, '/health')) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  /** Name of the current raft leader, as the given (or first running) member reports it. */
  async leader(): Promise<string> {
    const running = this.members.filter((m) => m.process !== undefined && m.process.exitCode === null && m.process.signalCode === null);
    for (const m of running) {
      try {
        const status = (await this.json(m, '/v3/maintenance/status', '{}')) as { leader?: string };
        const list = (await this.json(m, '/v3/cluster/member/list', '{}')) as { members?: { ID: string; name: string }[] };
        const leader = list.members?.find((x) => x.ID === status.leader);
        if (leader !== undefined) return leader.name;
      } catch {
        // try the next member
      }
    }
    throw new Error('no etcd member reports a leader');
  }

  /** SIGKILLs a member and waits for it to be gone. */
  async kill(name: string): Promise<void> {
    await killAndWait(this.member(name).process);
  }

  /** Restarts a killed member on its data dir; resolves when it is healthy. */
  async restart(name: string, timeoutMs = 20_000): Promise<void> {
    const m = this.member(name);
    await killAndWait(m.process);
    this.spawnMember(m, 'existing');
    await this.waitHealthy([m], timeoutMs);
  }

  freeze(name: string): void {
    this.member(name).process?.kill('SIGSTOP');
  }

  thaw(name: string): void {
    this.member(name).process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => killAndWait(m.process)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private tail(m: EtcdMember): string {
    try {
      return readFileSync(m.logFile, 'utf8').split('\n').filter(Boolean).slice(-3).join(' | ');
    } catch {
      return '(no log)';
    }
  }
}

async function killAndWait(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exited;
}

/**
 * Whether a real etcd can be started here. Outside CI a missing binary is a visible skip; in CI
 * (.ci/run installs etcd-server and sets CI) it is a failure, so nothing passes by skipping there.
 */
export function etcdMissing(): string | undefined {
  if (existsSync(ETCD_BIN)) return undefined;
  const why = `etcd is not installed at ${ETCD_BIN} (Debian package etcd-server; .ci/run installs it)`;
  if (process.env['CI']) throw new Error(`${why}: CI must have it`);
  return why;
}
