import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { PoolConfig } from './pool-config.ts';

/** The user name hosts send with the pool secret (basic auth); an operator may not use it. */
export const POOL_PEER_USER = 'liveset-pool';

/**
 * The pool secret: `pool-secret` as given, else the contents of `pool-secret-file` (default
 * `pool-secret` beside the configuration file: the data directory is per host, `./var/${server}`,
 * while every host needs the same secret, and the one file describing the pool is what is copied
 * to every host). A missing file is created with a new random secret, mode
 * 0600, as xapi creates its secret with the pool: written whole under another name and linked into
 * place, so two hosts starting at once on one machine agree on one secret.
 */
export function loadPoolSecret(cfg: PoolConfig, configDir: string): { secret: string; file?: string; created: boolean } {
  if (cfg.poolSecret !== undefined) return { secret: cfg.poolSecret, created: false };
  const file = resolve(configDir, cfg.poolSecretFile ?? 'pool-secret');
  let created = false;
  try {
    readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`pool secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    created = createSecretFile(file);
  }
  const secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  if (secret.length < 16) throw new Error(`pool secret file ${file}: the secret is shorter than 16 characters`);
  return { secret, file, created };
}

function createSecretFile(file: string): boolean {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${randomBytes(32).toString('base64url')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false; // another host made it first
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}
