/**
 * The subset match behind `expect`, `wait-until.match` and `expect-event.match`:
 * - an object matches when every key it names matches in the actual object (others are ignored);
 * - an array matches an array of the same length, element by element;
 * - `{ $contains: [a, b] }` matches an array holding, somewhere, an element matching each of a, b;
 * - a string written `/pattern/flags` matches a string the regular expression finds;
 * - anything else must be equal.
 */
export interface Mismatch {
  /** Where, as a path from the answer's root (`arguments.ha-servers.local.state`). */
  readonly path: string;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly reason: string;
}

const PATTERN = /^\/(.*)\/([dgimsuy]*)$/s;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

/** Returns the first place where `actual` fails to match `expected`, or undefined when it matches. */
export function findMismatch(expected: unknown, actual: unknown, path = ''): Mismatch | undefined {
  const fail = (reason: string): Mismatch => ({ path: path || '(answer)', expected, actual, reason });
  if (typeof expected === 'string') {
    const pattern = PATTERN.exec(expected);
    if (pattern !== null && expected.length > 1) {
      let re: RegExp;
      try {
        re = new RegExp(pattern[1] ?? '', pattern[2]);
      } catch (err) {
        return fail(`invalid pattern: ${(err as Error).message}`);
      }
      if (typeof actual !== 'string') return fail(`expected a string matching ${expected}`);
      return re.test(actual) ? undefined : fail(`does not match ${expected}`);
    }
  }
  if (isPlainObject(expected)) {
    const keys = Object.keys(expected);
    if (keys.length === 1 && keys[0] === '$contains' && Array.isArray(expected['$contains'])) {
      if (!Array.isArray(actual)) return fail('expected an array');
      for (const [i, want] of (expected['$contains'] as unknown[]).entries()) {
        if (!actual.some((item) => findMismatch(want, item) === undefined)) {
          return { path: join(path || '(answer)', `$contains[${i}]`), expected: want, actual, reason: 'no element matches' };
        }
      }
      return undefined;
    }
    if (!isPlainObject(actual)) return fail('expected an object');
    for (const key of keys) {
      if (!(key in actual)) return { path: join(path, key), expected: expected[key], actual: undefined, reason: 'missing' };
      const inner = findMismatch(expected[key], actual[key], join(path, key));
      if (inner !== undefined) return inner;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return fail('expected an array');
    if (actual.length !== expected.length) return fail(`expected ${expected.length} elements, got ${actual.length}`);
    for (const [i, want] of expected.entries()) {
      const inner = findMismatch(want, actual[i], join(path, i));
      if (inner !== undefined) return inner;
    }
    return undefined;
  }
  return Object.is(expected, actual) ? undefined : fail('not equal');
}
