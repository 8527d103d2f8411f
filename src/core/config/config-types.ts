import type { LogLevel } from '../logger.ts';
import type { SchemaProblem } from '../schema-validator.ts';

/** `server.limits`, spelled as in the file (see schemas/liveset.schema.json). */
export interface ServerLimits {
  readonly connections: number;
  readonly 'batch-length': number;
  readonly 'requests-in-flight': number;
  readonly 'ws-send-buffer': number;
  readonly 'ws-ping-interval': number;
  readonly subscriptions: number;
}

/** The configuration after schema validation and defaults; spelled as in the file. */
export interface LivesetConfig {
  readonly server: {
    readonly name?: string;
    readonly listen?: string;
    readonly 'data-dir': string;
    readonly 'hooks-directory'?: string;
    readonly services: readonly string[];
    readonly 'body-limit': number;
    readonly control: {
      readonly http: boolean;
      readonly websocket: boolean;
      readonly ui: boolean;
      readonly metrics: boolean;
      readonly 'metrics-unauthenticated-loopback': boolean;
    };
    readonly 'shutdown-grace-ms': number;
    readonly limits: ServerLimits;
    readonly tls?: { readonly 'trust-anchor': string; readonly 'cert-file': string; readonly 'key-file': string; readonly 'cert-required': boolean };
    readonly insecure: boolean;
    readonly authentication?: {
      readonly type: 'basic';
      readonly realm: string;
      readonly clients: readonly { readonly user: string; readonly password?: string; readonly 'password-file'?: string }[];
    };
  };
  readonly logging: { readonly level: LogLevel; readonly format: 'auto' | 'json' | 'pretty' };
  readonly testing: { readonly 'fault-injection': boolean };
  readonly 'hooks-libraries': readonly { readonly library: string; readonly parameters: Record<string, unknown> }[];
}

/** Where a configuration came from, and how to point at a place in it. */
export interface ConfigSource {
  readonly file: string;
  readonly dir: string;
  /** 1-based line and column of the value at a JSON pointer, when the source has positions. */
  locate(pointer: string, atKey?: boolean): { line: number; col: number } | undefined;
}

export interface LoadedConfig {
  readonly source: ConfigSource;
  /** Valid and complete only when `problems` is empty. */
  readonly config: LivesetConfig;
  /** Schema problems found, kept so that library problems can be reported alongside them. */
  readonly problems: readonly SchemaProblem[];
  /** The configuration as written, before `${VAR}` substitution and defaults (what config-write writes). */
  readonly raw: unknown;
}
