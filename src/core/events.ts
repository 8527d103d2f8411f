import type { EventSink } from './commands/command.ts';
import { CommandError } from './errors.ts';

/**
 * Who wants which events. A subscription pattern is an event name, `*` for all, or a prefix
 * ending in `*` (`ha-*`). Sinks are WebSocket connections; a dead one is removed on close.
 */
export class EventBus {
  private readonly subscriptions = new Map<string, { sink: EventSink; patterns: Set<string> }>();

  /** Adds `patterns` to the sink's; refused whole (LIMIT_EXCEEDED) if the sink would hold more than `max`. */
  subscribe(sink: EventSink, patterns: readonly string[], max = Infinity): readonly string[] {
    const entry = this.subscriptions.get(sink.id) ?? { sink, patterns: new Set<string>() };
    const after = new Set([...entry.patterns, ...patterns]).size;
    if (after > max) {
      throw new CommandError('LIMIT_EXCEEDED', ['server.limits.subscriptions', String(max), `this connection would be subscribed to ${after} event patterns`]);
    }
    for (const p of patterns) entry.patterns.add(p);
    this.subscriptions.set(sink.id, entry);
    return [...entry.patterns].sort();
  }

  unsubscribe(sink: EventSink, patterns?: readonly string[]): readonly string[] {
    const entry = this.subscriptions.get(sink.id);
    if (!entry) return [];
    if (patterns === undefined) entry.patterns.clear();
    else for (const p of patterns) entry.patterns.delete(p);
    if (entry.patterns.size === 0) this.subscriptions.delete(sink.id);
    return [...entry.patterns].sort();
  }

  /** Connections subscribed to at least one event. */
  get size(): number {
    return this.subscriptions.size;
  }

  remove(sinkId: string): void {
    this.subscriptions.delete(sinkId);
  }

  publish(event: string, data: unknown): number {
    let delivered = 0;
    for (const { sink, patterns } of this.subscriptions.values()) {
      if (matches(patterns, event)) {
        sink.notify(event, data);
        delivered++;
      }
    }
    return delivered;
  }
}

function matches(patterns: Set<string>, event: string): boolean {
  if (patterns.has('*') || patterns.has(event)) return true;
  for (const p of patterns) if (p.endsWith('*') && event.startsWith(p.slice(0, -1))) return true;
  return false;
}
