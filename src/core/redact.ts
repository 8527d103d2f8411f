export const SECRET_KEY = /password|secret|token/i;

/** A deep copy with every value under a password/secret/token key replaced, for config-get. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && typeof v === 'string' && !k.endsWith('-file') ? '*****' : redactSecrets(v)]),
    );
  }
  return value;
}
