/**
 * JSON text as Kea writes it, so that a Kea-channel answer is byte for byte what a Kea 2.2 control
 * agent sends (its body is `Element::str()`, i.e. `Element::toJSON`, of the answer list:
 * `src/lib/http/response_json.cc` HttpResponseJson::setBodyAsJson). Kea's rules, from
 * `src/lib/cc/data.cc` (tag Kea-2.2.0):
 *
 * - MapElement::toJSON: `{ ` + `"key": value` joined by `, ` + ` }`; the keys in std::map order
 *   (byte order of their UTF-8, i.e. code-point order), so an empty map is `{  }`.
 * - ListElement::toJSON: `[ ` + values joined by `, ` + ` ]`, so an empty list is `[  ]`.
 * - IntElement: the decimal integer. BoolElement `true`/`false`, NullElement `null`.
 * - StringElement::toJSON: `"` `\` `\b` `\f` `\n` `\r` `\t` get their two-character escapes, every
 *   other byte below 0x20 and 0x7f become `\u00XX` (lower-case hex); `/` is not escaped.
 * - DoubleElement::toJSON: `ostream << double` (printf `%g`, 6 significant digits), then `.0`
 *   appended when the text has no `.`.
 *
 * Where following Kea would lose data or produce invalid JSON, this writes valid, exact JSON
 * instead (and only there):
 * - Kea escapes every byte of a non-ASCII character separately (`é` → `\u00c3\u00a9`), which
 *   standard JSON parsers read back as two other characters; here non-ASCII characters are written
 *   as they are (UTF-8), which Kea's own parser and every other one read back unchanged. Lone
 *   surrogates (not valid UTF-8) are escaped as `\udXXX`.
 * - Kea writes map keys without escaping; here a key with a character that needs escaping gets it.
 * - A non-integer number whose `%g` text is not exact (more than 6 significant digits) or not JSON
 *   (Kea's `1e-07.0`) is written as JavaScript's shortest exact form; Kea's text otherwise.
 *   Non-finite numbers are `null` (as JSON.stringify writes them).
 *
 * Values are what JSON.stringify accepts: `undefined` and functions are left out of maps and are
 * `null` in lists, `toJSON()` is honoured (e.g. Date), bigint is written as an integer.
 */
export function keaJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(v: unknown): string | undefined {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'object') {
    if (v === null) return 'null';
    if (Array.isArray(v)) return list(v);
    const j = (v as { toJSON?: unknown }).toJSON;
    if (typeof j === 'function') return write((j as () => unknown).call(v));
    return map(v as Record<string, unknown>);
  }
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

function list(a: readonly unknown[]): string {
  if (a.length === 0) return '[  ]';
  let s = '[ ' + (write(a[0]) ?? 'null');
  for (let i = 1; i < a.length; i++) s += ', ' + (write(a[i]) ?? 'null');
  return s + ' ]';
}

function map(o: Record<string, unknown>): string {
  const keys = Object.keys(o);
  if (keys.length > 1) keys.sort();
  let s = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const q = quotedKey(k);
    // The native sort is UTF-16 order; a key at or above U+D800 may sort differently by code point.
    if (q.high && keys.length > 1) return mapByCodePoint(o, keys);
    const w = write(o[k]);
    if (w === undefined) continue;
    s += (s === '' ? '{ ' : ', ') + q.text + w;
  }
  return s === '' ? '{  }' : s + ' }';
}

function mapByCodePoint(o: Record<string, unknown>, keys: string[]): string {
  keys.sort(byCodePoint);
  let s = '';
  for (const k of keys) {
    const w = write(o[k]);
    if (w === undefined) continue;
    s += (s === '' ? '{ ' : ', ') + quotedKey(k).text + w;
  }
  return s === '' ? '{  }' : s + ' }';
}

interface QuotedKey {
  /** `"key": ` */
  readonly text: string;
  /** Has a character at or above U+D800, where UTF-16 order and code-point order may differ. */
  readonly high: boolean;
}

/** Answers repeat the same few hundred keys; their quoted form is kept (bounded). */
const keyCache = new Map<string, QuotedKey>();

function quotedKey(k: string): QuotedKey {
  let q = keyCache.get(k);
  if (q === undefined) {
    if (keyCache.size >= 4096) keyCache.clear();
    q = { text: str(k) + ': ', high: /[\ud800-\uffff]/.test(k) };
    keyCache.set(k, q);
  }
  return q;
}

/**
 * std::map<std::string> order: bytes of the UTF-8 text, which is code-point order. JavaScript's
 * `<` compares UTF-16 code units, which differs only when a character above U+FFFF (a surrogate
 * pair) meets one in U+E000–U+FFFF at the same position.
 */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return (a.codePointAt(i) ?? x) - (b.codePointAt(i) ?? y);
    return x - y;
  }
  return a.length - b.length;
}

/** Characters that need an escape (Kea's, plus lone surrogates); most strings have none. */
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f\ud800-\udfff]/;

/** JSON.stringify escapes exactly Kea's set for ASCII (same short forms, lower-case `\u00XX`) except DEL. */
function str(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  const q = JSON.stringify(s);
  return q.includes('\x7f') ? q.replaceAll('\x7f', '\\u007f') : q;
}

/** JSON's number grammar (Kea's `1e-07.0` is not). */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/;

function num(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  if (!Number.isFinite(n)) return 'null';
  const kea = keaDouble(n);
  return Number(kea) === n && JSON_NUMBER.test(kea) ? kea : String(n);
}

/**
 * What Kea's DoubleElement::toJSON writes for a non-integer: C++ `ostream << double` (printf `%g`
 * with precision 6: the shortest of fixed and scientific, trailing zeros removed), plus `.0` when
 * the text has no decimal point.
 */
export function keaDouble(n: number): string {
  const P = 6;
  const e = n.toExponential(P - 1); // d.ddddde±X, rounded to P significant digits
  const x = Number(e.slice(e.indexOf('e') + 1));
  let t: string;
  if (x < -4 || x >= P) {
    const [m, exp] = e.split('e') as [string, string];
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[-+]/, '');
    t = `${mant}e${sign}${digits.padStart(2, '0')}`;
  } else {
    t = n.toFixed(P - 1 - x);
    if (t.includes('.')) t = t.replace(/0+$/, '').replace(/\.$/, '');
  }
  return t.includes('.') ? t : t + '.0';
}
