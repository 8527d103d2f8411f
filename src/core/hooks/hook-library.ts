import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { CommandSpec, CommandContext } from '../commands/command.ts';
import type { Answer } from '../commands/answer.ts';
import type { StoreFactory } from '../../store/store.ts';

export const HOOKS_API_VERSION = 1;

/**
 * Named points in the server's flow where callouts run, in library order then registration order.
 * Libraries may declare their own points (e.g. `ha_state_transition`).
 */
export type CalloutStatus = 'continue' | 'skip' | 'drop';

/**
 * A callout gets a mutable argument bag. On `command_received` it may rewrite `arguments`, or set
 * `response` and return 'skip' to answer without the handler, or return 'drop' to refuse the command.
 * On `command_processed` it may replace `response`.
 */
export type Callout = (args: Record<string, unknown>) => CalloutStatus | void | Promise<CalloutStatus | void>;

/** A member of a cluster described by one configuration file. */
export interface ClusterMember {
  readonly name: string;
  readonly url: string;
}

/** How to reach another liveset server: its name (for fault injection and logs), URL and credentials. */
export interface PeerAddress {
  readonly name: string;
  readonly url: string;
  readonly auth?: { readonly user: string; readonly password: string };
  /** For an https:// URL: the CA to trust and the client certificate to present (mutual TLS). */
  readonly tls?: PeerTls;
}

/** Client TLS for calls to peers (Kea's HA keys trust-anchor, cert-file, key-file), files read. */
export interface PeerTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Thrown by `callPeer` when the peer could not be reached or did not answer within the timeout. */
export class PeerUnreachableError extends Error {
  constructor(readonly peer: string, readonly reason: string) {
    super(`peer ${peer} unreachable: ${reason}`);
    this.name = 'PeerUnreachableError';
  }
}

/**
 * Thrown by `callPeer` when the peer answered 401 or 403: it is there but refuses this server's
 * credential (a wrong pool secret, say). A kind of unreachable — the call did not happen — kept
 * apart so callers and logs can tell a misconfiguration from a host that is down.
 */
export class PeerRejectedError extends PeerUnreachableError {
  constructor(peer: string, readonly status: number) {
    super(peer, `HTTP ${status}: the peer refused this server's credential`);
    this.name = 'PeerRejectedError';
  }
}

/** Test-only switches, present only when the configuration enables them. */
export interface FaultInjection {
  /** True when traffic between this server and `peer` is cut in the given direction. */
  isCut(peer: string, direction: 'in' | 'out'): boolean;
}

export interface LibraryHandle {
  /** The library's parameters, already valid against its `parametersSchema`. */
  readonly parameters: unknown;
  /** This server's name within the cluster (`--server` or the configuration's this-server-name). */
  readonly serverName: string;
  /** The URL this server listens on. */
  readonly selfUrl: string;
  /** Directory of the configuration file, for resolving relative paths in parameters. */
  readonly configDir: string;
  /** This server listens with TLS (server.tls); `certRequired`: it demands client certificates. */
  readonly listenerTls?: { readonly certRequired: boolean };
  /**
   * Registers the credential this library's peers present (the pool secret, an HA relationship's
   * basic-auth): commands whose schema says `"caller": "peer"` then need it. Removed at unload.
   * Absent on simulated servers, which have no transport.
   */
  registerPeerCredential?(user: string, password: string): void;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Snapshot + redo-log stores under this server's data directory. */
  readonly stores: StoreFactory;
  /** Present only with `testing: { fault-injection: true }`. */
  readonly faults?: FaultInjection;
  /**
   * Sends one command to another liveset server over its Kea control channel (`POST /`) and returns
   * its first answer. Rejects with PeerRejectedError on 401/403 (logged at warn as
   * CORE_PEER_REJECTED), with PeerUnreachableError on connection failure, timeout, another non-200
   * reply, when fault injection cuts traffic to that peer, or when the library is unloaded (calls
   * in flight then are aborted). Identifies this server to the peer
   * (header `X-Liveset-Server`) so the peer's own fault injection can drop it.
   */
  callPeer(peer: PeerAddress, command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<Answer>;
  /**
   * Serves this server's control channel on one more address (same routes, settings and TLS)
   * until `close()` or unload. Rejects when the address cannot be bound (EADDRINUSE while another
   * host still holds it). Absent on simulated servers, which have no transport.
   */
  openListener?(url: string): Promise<{ close(): Promise<void> }>;
  registerCommand(spec: CommandSpec): void;
  registerCallout(point: string, fn: Callout): void;
  /** Adds a section to `status-get`'s arguments under `key`. */
  registerStatus(key: string, fn: () => unknown): void;
  /** Runs the callouts registered at `point` (by any library) with `args`. */
  runCallouts(point: string, args: Record<string, unknown>): Promise<CalloutStatus>;
  /** Pushes an event to WebSocket subscribers of `event`. */
  publish(event: string, data: unknown): void;
  /**
   * Ends this process at once with `code`, without a graceful stop (a self-fence must not wait for
   * in-flight work or tell peers goodbye). Absent when the server runs in-process (tests).
   */
  exitProcess?(code: number): void;
  /** Dispatches a command inside this server, through validation and callouts. */
  dispatch(command: string, args: Record<string, unknown>, ctx?: Partial<CommandContext>): Promise<Answer>;
}

export interface HookLibrary {
  readonly name: string;
  readonly apiVersion: number;
  /** JSON Schema of `hooks-libraries[].parameters`; the manager validates before load(). */
  readonly parametersSchema: Record<string, unknown>;
  /**
   * The servers this library's parameters describe (for `--server`, `liveset up` and the listen
   * address) and the name this file says is "this" server, if any. Pure; called before load().
   */
  members?(parameters: unknown): { members: readonly ClusterMember[]; thisServer?: string };
  /** Cross-field checks beyond the schema (Kea's config parser); returns problems, empty if fine. */
  check?(parameters: unknown, serverName: string): readonly string[];
  /**
   * Settings that are valid but have no effect here (e.g. the ha library's max-unacked-clients),
   * each with its JSON pointer inside the parameters; `config-test` appends them to its answer. The library logs them itself when it loads.
   */
  warnings?(parameters: unknown, serverName: string): readonly { readonly pointer: string; readonly message: string }[];
  load(handle: LibraryHandle): void | Promise<void>;
  /**
   * A reload changed this library's parameters (already valid against its schema; the handle's
   * `parameters` field keeps the old ones). Apply them in place and return true, or return false
   * when the library must be restarted (unload, then load with the new parameters). Without this
   * method a library with changed parameters is restarted; one whose parameters did not change is
   * never disturbed by a reload.
   */
  reconfigure?(parameters: unknown): boolean | Promise<boolean>;
  /** Stops timers and services. Must be idempotent. */
  unload(): void | Promise<void>;
}
