import type { Header, HostId, PoolState, Slot, SlotState } from './xhad-machine.ts';

/**
 * The statefile's byte layout (PURE: bytes in, records out). Block 0 holds the header, block i+1
 * the slot of host i (hosts sorted by UUID), BLOCK bytes each, so every host writes only its own
 * block. A block is `<checksum> <json>\n` padded with spaces; host lists are stored as indexes into
 * the sorted host list so 64 hosts fit. A block whose checksum does not match (a torn write read
 * mid-way) reads as absent, and the reader keeps what it saw before.
 */
export const BLOCK = 4096;

/** FNV-1a 32-bit, hex: enough to detect a torn block (not a security check). */
export function checksum(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function block(json: string): Uint8Array {
  const text = `${checksum(json)} ${json}\n`;
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > BLOCK) throw new Error(`statefile block of ${bytes.length} bytes exceeds ${BLOCK}`);
  const out = new Uint8Array(BLOCK).fill(0x20);
  out.set(bytes);
  return out;
}

function unblock(bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes).trimEnd();
  const sp = text.indexOf(' ');
  if (sp !== 8) return undefined;
  const json = text.slice(9);
  if (checksum(json) !== text.slice(0, 8)) return undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

export function encodeHeader(h: Header): Uint8Array {
  return block(JSON.stringify({ s: h.state, g: h.generation }));
}

export function decodeHeader(bytes: Uint8Array): Header | undefined {
  const v = unblock(bytes) as { s?: unknown; g?: unknown } | undefined;
  const states: PoolState[] = ['init', 'active', 'invalid'];
  if (!v || typeof v.g !== 'string' || !states.includes(v.s as PoolState)) return undefined;
  return { state: v.s as PoolState, generation: v.g };
}

const idx = (hosts: readonly HostId[], xs: readonly HostId[]) => xs.map((x) => hosts.indexOf(x)).filter((i) => i >= 0);
const ids = (hosts: readonly HostId[], xs: unknown): HostId[] => (Array.isArray(xs) ? xs.map((i) => hosts[i as number]).filter((h): h is HostId => h !== undefined) : []);

export function encodeSlot(hosts: readonly HostId[], s: Slot): Uint8Array {
  const grant = s.grant === null ? -1 : hosts.indexOf(s.grant);
  return block(JSON.stringify({
    h: hosts.indexOf(s.host), g: s.generation, q: s.seq, s: s.state, hb: idx(hosts, s.hb), sf: idx(hosts, s.sf), l: idx(hosts, s.liveset), r: s.requesting ? 1 : 0, gr: grant, ...(s.excluded === true ? { x: 1 } : {}),
  }));
}

export function decodeSlot(hosts: readonly HostId[], bytes: Uint8Array): Slot | undefined {
  const v = unblock(bytes) as Record<string, unknown> | undefined;
  if (!v || typeof v['g'] !== 'string' || typeof v['q'] !== 'number') return undefined;
  const host = hosts[v['h'] as number];
  const state = v['s'] as SlotState;
  if (host === undefined || !['joining', 'online', 'left', 'fenced'].includes(state)) return undefined;
  const gr = v['gr'] as number;
  return {
    host, generation: v['g'], seq: v['q'], state, hb: ids(hosts, v['hb']), sf: ids(hosts, v['sf']), liveset: ids(hosts, v['l']),
    requesting: v['r'] === 1, grant: gr >= 0 ? hosts[gr] ?? null : null, ...(v['x'] === 1 ? { excluded: true } : {}),
  };
}
