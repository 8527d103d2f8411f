// Just enough of the untyped `xen-api` client (Xen Orchestra's XAPI connector) for the pool tests.
declare module 'xen-api' {
  import type { EventEmitter } from 'node:events';

  export interface XapiRecord {
    readonly $ref: string;
    readonly $type: string;
    readonly [field: string]: unknown;
  }

  export interface XapiObjects {
    readonly all: Readonly<Record<string, XapiRecord>>;
    on(event: 'add' | 'update' | 'remove', fn: (objects: Readonly<Record<string, XapiRecord>>) => void): void;
    removeListener(event: 'add' | 'update' | 'remove', fn: (objects: Readonly<Record<string, XapiRecord>>) => void): void;
  }

  export class Xapi extends EventEmitter {
    readonly pool: XapiRecord | undefined;
    readonly status: string;
    readonly objects: XapiObjects;
    readonly objectsFetched: Promise<void>;
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    call(method: string, ...args: unknown[]): Promise<unknown>;
    getObjectByRef(ref: string, defaultValue?: undefined): XapiRecord | undefined;
  }

  export function createClient(opts: {
    url: string;
    auth: { user: string; password: string };
    watchEvents?: boolean | string[];
    allowUnauthorized?: boolean;
    /** How long the event loop waits after a failed event.from before trying again (default 60 s). */
    eventPollDelay?: number;
  }): Xapi;
}
