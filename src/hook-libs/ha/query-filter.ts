import type { HaConfig } from './ha-config.ts';

/** RFC 3074's 256-byte permutation table for the "loadb" hash (data from the RFC). */
const LOADB_TABLE: readonly number[] = [
  251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152, 58, 17, 237, 174, 70,
  160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65, 180, 48, 36, 15,
  107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108,
  244, 67, 207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25,
  226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105, 39, 114,
  62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82, 163, 44, 139, 228, 236, 205, 242, 217, 11, 187,
  146, 159, 64, 86, 239, 195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164,
  102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171,
  72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136, 208, 162, 129, 190, 132,
  156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151,
];

/** Exposed for the test that checks the table is a permutation of 0..255. */
export const loadbTable = (): readonly number[] => LOADB_TABLE;

/**
 * RFC 3074's hash as Kea's query filter computes it: start from the key length (mod 256) and fold
 * the bytes in from the last to the first through the permutation table.
 */
export function loadBalancingHash(key: Uint8Array): number {
  let h = key.length % 256;
  for (let i = key.length - 1; i >= 0; i--) h = LOADB_TABLE[h ^ (key[i] ?? 0)] ?? 0;
  return h;
}

/**
 * The scope (peer name) responsible for a client key. Load-balancing splits keys between the
 * primary (even hash) and the secondary (odd hash); the other modes have one active server, the
 * primary, whose scope gets every key.
 */
export function scopeForKey(cfg: HaConfig, key: Uint8Array): string {
  const active = cfg.peers.filter((p) => p.role !== 'backup' && p.role !== 'standby');
  const count = cfg.mode === 'load-balancing' ? 2 : 1;
  const index = loadBalancingHash(key) % count;
  const peer = active[index] ?? active[0];
  return peer?.name ?? '';
}

/** Parses `aa:bb:cc`, `aa-bb-cc` or `aabbcc` hex into bytes; undefined when it is not hex. */
export function hexKey(text: string): Uint8Array | undefined {
  const compact = text.replace(/[:\-\s]/g, '');
  if (compact.length === 0 || compact.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(compact)) return undefined;
  const bytes = new Uint8Array(compact.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(compact.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
