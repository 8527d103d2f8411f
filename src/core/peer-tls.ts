import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PeerTls } from './hooks/hook-library.ts';

/** Kea's HA TLS keys, as a library's parameters spell them. */
export interface PeerTlsFiles {
  readonly 'trust-anchor'?: string;
  readonly 'cert-file'?: string;
  readonly 'key-file'?: string;
}

/** Kea's rule: all three keys or none (an empty string counts as unset). A problem text, or undefined. */
export function peerTlsProblem(files: PeerTlsFiles): string | undefined {
  const set = [files['trust-anchor'], files['cert-file'], files['key-file']].filter((v) => v !== undefined && v !== '').length;
  return set === 0 || set === 3 ? undefined : 'all or none of TLS parameters must be set (trust-anchor, cert-file, key-file)';
}

export function hasPeerTls(files: PeerTlsFiles): boolean {
  return (files['trust-anchor'] ?? '') !== '' && (files['cert-file'] ?? '') !== '' && (files['key-file'] ?? '') !== '';
}

/** Reads the three files (relative to the configuration file); throws naming `where` and the file. */
export function readPeerTls(configDir: string, files: PeerTlsFiles, where: string): PeerTls {
  const read = (key: keyof PeerTlsFiles) => {
    const file = resolve(configDir, files[key] as string);
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${where}: ${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { ca: read('trust-anchor'), cert: read('cert-file'), key: read('key-file') };
}
