import { crc32 } from 'node:zlib';

/**
 * On-disk framing shared by the redo log and the snapshot: one line per frame,
 * `<crc32 as 8 hex digits> <json>\n`, where the checksum covers the JSON bytes and the JSON is
 * `{"seq": n, "data": value}`. Lines keep the files readable with ordinary tools; JSON never
 * contains a raw newline, so a missing `\n` marks a frame the writer did not finish.
 */

/** A decoded frame: its sequence number and its JSON payload. */
export interface Frame {
  readonly seq: number;
  readonly data: unknown;
}

/** Why decoding stopped before the end of the bytes. */
export type FrameFault = 'torn' | 'checksum' | 'malformed' | 'sequence';

export interface DecodedLog {
  readonly frames: readonly Frame[];
  /** Byte length of the valid prefix: everything from here on must be cut off. */
  readonly validLength: number;
  /** Present when decoding stopped early; `at` is the byte offset of the bad frame. */
  readonly fault?: { readonly kind: FrameFault; readonly at: number };
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const CRC_DIGITS = 8;

/**
 * Serialises `data` as JSON, refusing what JSON cannot represent (undefined, functions, symbols;
 * BigInt and cycles make JSON.stringify throw by itself) so nothing is silently dropped.
 */
export function toJson(data: unknown, what: string): string {
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`${what} must be a JSON value, got ${typeof data}`);
  return json;
}

/** Encodes one frame, newline included. */
export function encodeFrame(seq: number, data: unknown, what = 'record'): Buffer {
  const body = Buffer.from(`{"seq":${seq},"data":${toJson(data, what)}}`, 'utf8');
  const head = Buffer.from(`${crc32(body).toString(16).padStart(CRC_DIGITS, '0')} `, 'latin1');
  return Buffer.concat([head, body, Buffer.from([NEWLINE])]);
}

type LineResult = { ok: true; frame: Frame } | { ok: false; kind: FrameFault };

function decodeLine(line: Buffer): LineResult {
  if (line.length <= CRC_DIGITS + 1 || line[CRC_DIGITS] !== SPACE) return { ok: false, kind: 'malformed' };
  const hex = line.toString('latin1', 0, CRC_DIGITS);
  if (!/^[0-9a-f]{8}$/.test(hex)) return { ok: false, kind: 'malformed' };
  const body = line.subarray(CRC_DIGITS + 1);
  if (crc32(body) !== Number.parseInt(hex, 16)) return { ok: false, kind: 'checksum' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, kind: 'malformed' };
  }
  if (typeof parsed !== 'object' || parsed === null || !('seq' in parsed) || !('data' in parsed)) {
    return { ok: false, kind: 'malformed' };
  }
  const { seq, data } = parsed as { seq: unknown; data: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return { ok: false, kind: 'malformed' };
  return { ok: true, frame: { seq, data } };
}

/**
 * Decodes frames from the start of `bytes`, stopping at the first one that is incomplete, fails
 * its checksum, does not parse, or breaks the sequence (each seq must be the previous plus one).
 */
export function decodeLog(bytes: Buffer): DecodedLog {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(NEWLINE, offset);
    if (end < 0) return { frames, validLength: offset, fault: { kind: 'torn', at: offset } };
    const result = decodeLine(bytes.subarray(offset, end));
    if (!result.ok) return { frames, validLength: offset, fault: { kind: result.kind, at: offset } };
    const previous = frames[frames.length - 1];
    if (previous !== undefined && result.frame.seq !== previous.seq + 1) {
      return { frames, validLength: offset, fault: { kind: 'sequence', at: offset } };
    }
    frames.push(result.frame);
    offset = end + 1;
  }
  return { frames, validLength: offset };
}

/**
 * True when the frame starting at `at` is the last thing in `bytes`: no complete line follows it.
 * Only such a frame can be the victim of a write the crash interrupted; a bad frame with records
 * after it means the bytes changed after they were synced, which repair must not paper over.
 */
export function isLastFrame(bytes: Buffer, at: number): boolean {
  const end = bytes.indexOf(NEWLINE, at);
  return end < 0 || end === bytes.length - 1;
}

/** Decodes a snapshot file: exactly one frame. Returns the fault kind when it is not valid. */
export function decodeSnapshot(bytes: Buffer): Frame | FrameFault {
  const end = bytes.indexOf(NEWLINE);
  if (end < 0) return 'torn';
  if (end !== bytes.length - 1) return 'malformed';
  const result = decodeLine(bytes.subarray(0, end));
  return result.ok ? result.frame : result.kind;
}
