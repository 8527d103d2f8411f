/** A scenario after loading and validation: everything resolved, durations in milliseconds. */

export type Via = 'kea' | 'jsonrpc' | 'ws' | 'xenapi';
export type CutDirection = 'both' | 'in' | 'out';
export type JsonObject = Record<string, unknown>;

/** One command to one server over one wire format. */
export interface Request {
  readonly server: string;
  readonly command: string;
  readonly via: Via;
  readonly arguments?: JsonObject;
  readonly params?: readonly unknown[];
}

export type ProcessAction = 'kill' | 'stop' | 'start' | 'restart';

export type Action =
  | { readonly kind: 'send'; readonly request: Request; readonly expect?: JsonObject; readonly save?: Readonly<Record<string, string>> }
  | { readonly kind: 'wait-until'; readonly request: Request; readonly match: JsonObject; readonly intervalMs: number }
  | { readonly kind: 'expect-event'; readonly server: string; readonly event: string; readonly match?: JsonObject }
  | { readonly kind: ProcessAction; readonly servers: readonly string[] }
  | {
      readonly kind: 'partition';
      readonly cuts: readonly { server: string; peers: string[]; direction: CutDirection }[];
      /** As written, for the step's default name. */
      readonly groups?: readonly (readonly string[])[];
    }
  | { readonly kind: 'heal'; readonly servers: readonly string[] | 'all' }
  | { readonly kind: 'sleep'; readonly ms: number };

export interface Step {
  /** 1-based position in the file. */
  readonly index: number;
  readonly name: string;
  /** Line of the step in the scenario file, when known. */
  readonly line?: number;
  readonly timeoutMs: number;
  readonly action: Action;
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description?: string;
  /** Absolute path of the cluster configuration, when the scenario starts one. */
  readonly cluster?: string;
  /** Members of the cluster, as the cluster file defines them (before any port rewriting). */
  readonly members: readonly { readonly name: string; readonly url: string }[];
  /** Servers already running: name → URL. */
  readonly external: Readonly<Record<string, string>>;
  /** Members started before the first step. */
  readonly start: readonly string[];
  readonly startupTimeoutMs: number;
  readonly auth?: Credentials;
  readonly xenapi?: Credentials;
  readonly variables: Readonly<Record<string, string>>;
  readonly steps: readonly Step[];
}
