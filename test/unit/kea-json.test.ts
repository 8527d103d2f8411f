import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { keaDouble, keaJson } from '../../src/transports/kea-http/kea-json.ts';
import { keaReference } from '../helpers/kea-reference.ts';

/** Per test: every test in this file stops well within it. */
const TIMEOUT = 60_000;

/*
 * Expected texts follow Kea 2.2's Element::toJSON (src/lib/cc/data.cc at tag Kea-2.2.0):
 * MapElement writes "{ " + `"key": value` joined by ", " + " }" over a std::map (keys sorted by
 * byte), ListElement "[ " + values joined by ", " + " ]" (so empty ones are "{  }" and "[  ]"),
 * StringElement escapes " \ \b \f \n \r \t and writes every other byte < 0x20 or >= 0x7f as \u00XX
 * (lower-case hex), IntElement the integer, DoubleElement `ostream << double` (%g, precision 6)
 * plus ".0" when there is no '.'. The control agent sends that text as the body
 * (src/lib/http/response_json.cc HttpResponseJson::setBodyAsJson: body_ = json_body->str()).
 */

test('maps and lists are laid out as Kea writes them; keys sorted, empty ones with two spaces', { timeout: TIMEOUT }, () => {
  assert.equal(keaJson([{ text: 'x', result: 0, arguments: { b: [], a: {} } }]), '[ { "arguments": { "a": {  }, "b": [  ] }, "result": 0, "text": "x" } ]');
  assert.equal(keaJson([]), '[  ]');
  assert.equal(keaJson({}), '{  }');
  assert.equal(keaJson([1, [2, [3]], null, true, false]), '[ 1, [ 2, [ 3 ] ], null, true, false ]');
  // std::map orders by bytes: upper case before lower case, "a-b" before "a.b" before "ab".
  assert.equal(keaJson({ b: 1, B: 2, ab: 3, 'a.b': 4, 'a-b': 5 }), '{ "B": 2, "a-b": 5, "a.b": 4, "ab": 3, "b": 1 }');
});

test('strings: Kea\'s escapes for ASCII, DEL included, "/" left alone', { timeout: TIMEOUT }, () => {
  assert.equal(keaJson('a"b\\c/d'), '"a\\"b\\\\c/d"');
  assert.equal(keaJson('\b\f\n\r\t'), '"\\b\\f\\n\\r\\t"');
  assert.equal(keaJson('\x00\x01\x1f\x7f'), '"\\u0000\\u0001\\u001f\\u007f"');
});

test('non-ASCII is written as UTF-8 (Kea would escape each byte, which other parsers misread)', { timeout: TIMEOUT }, () => {
  assert.equal(keaJson('é☃😀'), '"é☃😀"');
  assert.equal(keaJson('\ud800'), '"\\ud800"');
  // Key order is code-point order (UTF-8 byte order), not UTF-16 order.
  assert.equal(keaJson({ '\uffff': 1, '😀': 2 }), '{ "\uffff": 1, "😀": 2 }');
});

test('numbers: integers as integers; non-integers as Kea prints them when that is exact JSON', { timeout: TIMEOUT }, () => {
  assert.equal(keaJson(-0), '0');
  assert.equal(keaJson(9007199254740991), '9007199254740991');
  assert.equal(keaJson(1e21), '1000000000000000000000');
  assert.equal(keaJson(0.5), '0.5');
  assert.equal(keaJson(-123.456), '-123.456');
  assert.equal(keaJson(0.0001), '0.0001');
  // Kea: "1e-07.0" (not JSON) and "1.23457e+06" (inexact): the shortest exact form instead.
  assert.equal(keaDouble(1e-7), '1e-07.0');
  assert.equal(keaJson(1e-7), '1e-7');
  assert.equal(keaDouble(1234567.5), '1.23457e+06');
  assert.equal(keaJson(1.5e-7), '1.5e-07');
  assert.equal(keaJson(-2.5e-300), '-2.5e-300');
  assert.equal(keaJson(1234567.5), '1234567.5');
  // Kea: "0.333333" loses digits: the shortest exact form instead.
  assert.equal(keaDouble(1 / 3), '0.333333');
  assert.equal(keaJson(1 / 3), String(1 / 3));
  assert.equal(keaJson(Number.NaN), 'null');
  assert.equal(keaJson(12n), '12');
});

test('JSON.stringify semantics for what JSON has no word for', { timeout: TIMEOUT }, () => {
  assert.equal(keaJson({ a: undefined, b: () => 1, c: 1 }), '{ "c": 1 }');
  assert.equal(keaJson({ a: undefined }), '{  }');
  assert.equal(keaJson([undefined]), '[ null ]');
  assert.equal(keaJson({ at: new Date(0) }), '{ "at": "1970-01-01T00:00:00.000Z" }');
  assert.equal(keaJson(undefined), 'null');
});

// ---- property tests ----------------------------------------------------------------------------

/** Printable ASCII and control characters (where Kea escapes per byte exactly as JSON does). */
const asciiString = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 12 });
/** Kea writes keys unescaped, so keys that need no escaping. */
const keaKey = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c).map((c) => String.fromCharCode(c)), maxLength: 8 });
/** Doubles whose %g text (6 significant digits) is exact and JSON: fixed notation, or scientific with a '.'. */
const keaExactDouble = fc.oneof(
  fc.tuple(fc.integer({ min: -999_999, max: 999_999 }), fc.integer({ min: 1, max: 5 })).map(([m, k]) => m / 10 ** k),
  fc.tuple(fc.integer({ min: -99_999, max: 99_999 }), fc.integer({ min: -300, max: 300 })).map(([m, x]) => Number(`${m / 10 ** 4}e${x}`)),
).filter((d) => !Number.isInteger(d) && Number.isFinite(d) && Number(keaDouble(d)) === d && !keaDouble(d).endsWith('.0'));

const keaValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    keaExactDouble,
    asciiString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keaKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

test('property: on values Kea writes as exact JSON, the output is byte for byte the reference re-implementation of Kea', { timeout: TIMEOUT }, () => {
  fc.assert(
    fc.property(keaValue, (v) => {
      assert.equal(keaJson(v), keaReference(v));
    }),
    { numRuns: 2000, seed: 18 },
  );
});

test('property: any JSON value (any strings, any doubles) parses back to the same value', { timeout: TIMEOUT }, () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      assert.deepStrictEqual(JSON.parse(keaJson(v)), JSON.parse(JSON.stringify(v)));
    }),
    { numRuns: 2000, seed: 18 },
  );
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
      assert.equal(JSON.parse(keaJson(d)), d === 0 ? 0 : d);
    }),
    { numRuns: 5000, seed: 18 },
  );
});
