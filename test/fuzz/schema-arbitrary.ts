import fc from 'fast-check';

/** The part of JSON Schema the command schemas use (schemas/commands/*.json). */
export interface JsonSchema {
  readonly type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null';
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly pattern?: string;
}

/**
 * Strings worth trying besides random ones: references and names that exist on the target, so
 * valid inputs reach past "handle invalid" into the commands' real work.
 */
export interface Vocabulary {
  readonly strings: readonly string[];
}

function stringArb(s: JsonSchema, vocab: Vocabulary): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = s.maxLength ?? Math.max(min, 24);
  if (s.pattern !== undefined) return fc.stringMatching(new RegExp(s.pattern));
  const fits = vocab.strings.filter((x) => x.length >= min && x.length <= max);
  const random = fc.string({ minLength: min, maxLength: max });
  return fits.length > 0 ? fc.oneof(random, fc.constantFrom(...fits)) : random;
}

/** Values that satisfy `s`. */
export function validValue(s: JsonSchema, vocab: Vocabulary): fc.Arbitrary<unknown> {
  if (s.enum !== undefined) return fc.constantFrom(...s.enum);
  switch (s.type) {
    case 'string':
      return stringArb(s, vocab);
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1_000_000, max: s.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validValue(s.items ?? {}, vocab), { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, 4) });
    case 'object':
      return objectArb(s, vocab);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectArb(s: JsonSchema, vocab: Vocabulary): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const known = fc.record(
    Object.fromEntries(Object.entries(props).map(([k, v]) => [k, validValue(v, vocab)])),
    { requiredKeys: (s.required ?? []).filter((k) => k in props) },
  ) as fc.Arbitrary<Record<string, unknown>>;
  const extra = s.additionalProperties;
  if (typeof extra !== 'object') return known;
  const more = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !(k in props)), validValue(extra, vocab), { maxKeys: 3 });
  return fc.tuple(known, more).map(([a, b]) => ({ ...b, ...a }));
}

/** A value of some other JSON type than `s` allows. */
function wrongType(s: JsonSchema): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.string({ maxLength: 8 }),
    integer: fc.integer(),
    number: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
    boolean: fc.boolean(),
    array: fc.array(fc.integer(), { maxLength: 3 }),
    object: fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
    null: fc.constant(null),
  };
  const not = new Set([s.type ?? '', ...(s.type === 'number' ? ['integer'] : [])]);
  return fc.oneof(...Object.entries(all).filter(([t]) => !not.has(t)).map(([, a]) => a));
}

/** Values far outside what anyone sends: megabyte strings, extreme numbers, deep nesting. */
const huge: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 100_000, max: 600_000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 2 ** 64),
  fc.integer({ min: 100, max: 400 }).map((depth) => {
    let v: unknown = 0;
    for (let i = 0; i < depth; i++) v = [v];
    return v;
  }),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
);

export interface NearValid {
  readonly args: Record<string, unknown>;
  /** What was changed, e.g. "missing host", "extra zz", "wrong type of stuff", "huge name_label". */
  readonly change: string;
}

/**
 * Arguments one step away from valid: a required field missing, an unknown field added, one field
 * of the wrong type, out of its enum/range, or huge. Some of these are still valid (an optional
 * field may take anything); the checks only rely on what the server answered.
 */
export function nearValidArgs(s: JsonSchema, vocab: Vocabulary): fc.Arbitrary<NearValid> {
  const props = Object.keys(s.properties ?? {});
  const required = (s.required ?? []).filter((k) => props.includes(k));
  const base = objectArb(s, vocab);
  const options: fc.Arbitrary<NearValid>[] = [
    base.map((a) => ({ args: { ...a, zz_extra: 1 }, change: 'extra zz_extra' })),
  ];
  if (required.length > 0) {
    options.push(fc.tuple(base, fc.constantFrom(...required)).map(([a, k]) => {
      const { [k]: _gone, ...rest } = a;
      return { args: rest, change: `missing ${k}` };
    }));
  }
  if (props.length > 0) {
    const pick = fc.constantFrom(...props);
    options.push(
      fc.tuple(base, pick).chain(([a, k]) => wrongType(s.properties?.[k] ?? {}).map((v) => ({ args: { ...a, [k]: v }, change: `wrong type of ${k}` }))),
      fc.tuple(base, pick, huge).map(([a, k, v]) => ({ args: { ...a, [k]: v }, change: `huge ${k}` })),
      fc.tuple(base, pick).map(([a, k]) => ({ args: { ...a, [k]: outOfRange(s.properties?.[k] ?? {}) }, change: `out of range ${k}` })),
    );
  }
  return fc.oneof(...options);
}

function outOfRange(s: JsonSchema): unknown {
  if (s.enum !== undefined) return 'not-in-enum';
  if (s.type === 'integer' || s.type === 'number') return s.minimum !== undefined ? s.minimum - 1 : s.maximum !== undefined ? s.maximum + 1 : 0.5;
  if (s.type === 'string') return s.minLength !== undefined && s.minLength > 0 ? '' : '\u0000\uffff';
  if (s.type === 'array') return [];
  return null;
}
