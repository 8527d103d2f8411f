/**
 * True when some object in `text` (valid JSON) has the same key twice. JSON.parse keeps the last
 * value silently; the YAML parser the configuration used to go through refuses it ("Map keys must
 * be unique"), and a duplicated key in a configuration is a mistake worth stopping for.
 */
export function hasDuplicateKey(text: string): boolean {
  const objects: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) objects.push(new Set());
    else if (c === 0x5b /* [ */) objects.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) objects.pop();
    else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c /* \ */) {
          escaped = true;
          i++;
        }
      }
      const keys = objects[objects.length - 1];
      if (!keys || !isKey(text, i + 1)) continue;
      // "\u0061" and "a" are the same key.
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (keys.has(key)) return true;
      keys.add(key);
    }
  }
  return false;
}

/** In valid JSON a string is an object key exactly when the next token is ':'. */
function isKey(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === ':') return true;
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return false;
  }
  return false;
}
