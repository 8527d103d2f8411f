/**
 * An independent re-implementation of how Kea 2.2 writes JSON (Element::toJSON in
 * src/lib/cc/data.cc at tag Kea-2.2.0), for tests to compare liveset's bytes with. It works on UTF-8
 * bytes as the C++ code does: MapElement "{ " + `"key": value` joined by ", " + " }" with keys in
 * std::map (byte) order and written unescaped; ListElement "[ " + values joined by ", " + " ]";
 * StringElement escapes " \ \b \f \n \r \t and writes every other byte < 0x20 or >= 0x7f as \u00XX;
 * IntElement the integer; DoubleElement printf %g (precision 6) plus ".0" when there is no '.'.
 * The control agent's body is that text of the answer list (src/lib/http/response_json.cc
 * HttpResponseJson::setBodyAsJson), and kea-shell prints the body followed by a newline
 * (src/bin/shell/kea_conn.py CAResponse.print_response).
 */
export function keaReference(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : refDouble(v);
  if (typeof v === 'string') {
    let out = '"';
    for (const byte of Buffer.from(v, 'utf8')) {
      const c = String.fromCharCode(byte);
      if (SHORT[c] !== undefined) out += SHORT[c];
      else if (byte < 0x20 || byte >= 0x7f) out += '\\u' + byte.toString(16).padStart(4, '0');
      else out += c;
    }
    return out + '"';
  }
  if (Array.isArray(v)) return '[ ' + v.map(keaReference).join(', ') + ' ]';
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return '{ ' + keys.map((k) => `"${k}": ${keaReference(o[k])}`).join(', ') + ' }';
}

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** printf("%g") with precision 6, built from the 6 significant digits and the decimal exponent. */
export function refDouble(n: number): string {
  const [mant, exp] = n.toExponential(5).split('e') as [string, string];
  const x = Number(exp);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let body: string;
  if (x < -4 || x >= 6) {
    const frac = digits.slice(1).replace(/0+$/, '');
    body = digits[0] + (frac ? '.' + frac : '') + 'e' + (x < 0 ? '-' : '+') + String(Math.abs(x)).padStart(2, '0');
  } else if (x >= 0) {
    const int = digits.slice(0, x + 1);
    const frac = digits.slice(x + 1).replace(/0+$/, '');
    body = int + (frac ? '.' + frac : '');
  } else {
    body = ('0.' + '0'.repeat(-x - 1) + digits).replace(/0+$/, '').replace(/\.$/, '');
  }
  const t = (neg ? '-' : '') + body;
  return t.includes('.') ? t : t + '.0';
}

type Kind = 'int' | 'bool' | 'string' | 'string[]' | 'int[]' | { [key: string]: Kind };

/**
 * status-get's keys and types in Kea 2.2 (src/bin/dhcp4/ctrl_dhcp4_srv.cc commandStatusGetHandler;
 * src/hooks/dhcp/high_availability/ha_impl.cc commandProcessed, ha_service.cc processStatusGet,
 * communication_state.cc getReport). `remote` is absent in passive-backup and on backups.
 */
const STATUS_TOP: Record<string, Kind> = { pid: 'int', uptime: 'int', reload: 'int', 'multi-threading-enabled': 'bool', sockets: { status: 'string' } };
const HA_LOCAL: Record<string, Kind> = { role: 'string', scopes: 'string[]', state: 'string' };
const HA_REMOTE: Record<string, Kind> = {
  'in-touch': 'bool', age: 'int', 'last-state': 'string', 'last-scopes': 'string[]', 'communication-interrupted': 'bool',
  'connecting-clients': 'int', 'unacked-clients': 'int', 'unacked-clients-left': 'int', 'analyzed-packets': 'int', role: 'string',
};

/** Every problem with status-get's arguments against Kea 2.2's keys and types; nulls anywhere in them are problems too. */
export function keaStatusProblems(args: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const check = (where: string, value: unknown, kind: Kind) => {
    if (value === undefined) return problems.push(`${where}: missing`);
    if (typeof kind === 'object') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return problems.push(`${where}: not a map`);
      for (const [k, sub] of Object.entries(kind)) check(`${where}.${k}`, (value as Record<string, unknown>)[k], sub);
      return;
    }
    const ok =
      kind === 'int' ? Number.isInteger(value)
      : kind === 'bool' ? typeof value === 'boolean'
      : kind === 'string' ? typeof value === 'string'
      : kind === 'int[]' ? Array.isArray(value) && value.every(Number.isInteger)
      : Array.isArray(value) && value.every((x) => typeof x === 'string');
    if (!ok) problems.push(`${where}: ${JSON.stringify(value)} is not ${kind}`);
  };
  for (const [k, kind] of Object.entries(STATUS_TOP)) check(k, args[k], kind);
  const ha = args['high-availability'];
  if (ha !== undefined) {
    if (!Array.isArray(ha)) problems.push('high-availability: not a list');
    else {
      for (const [i, rel] of ha.entries()) {
        if ((rel as { witness?: unknown }).witness !== undefined) continue; // a witness-only server (liveset)
        check(`high-availability[${i}].ha-mode`, rel['ha-mode'], 'string');
        const servers = rel['ha-servers'];
        check(`high-availability[${i}].ha-servers.local`, servers?.local, HA_LOCAL);
        const noRemote = rel['ha-mode'] === 'passive-backup' || servers?.local?.role === 'backup';
        if (noRemote) {
          if (servers?.remote !== undefined) problems.push(`high-availability[${i}].ha-servers.remote: present where Kea has none`);
        } else {
          check(`high-availability[${i}].ha-servers.remote`, servers?.remote, HA_REMOTE);
        }
      }
    }
  }
  const nulls = (v: unknown, where: string): void => {
    if (v === null) problems.push(`${where}: null`);
    else if (Array.isArray(v)) v.forEach((x, i) => nulls(x, `${where}[${i}]`));
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v as object)) nulls(x, where ? `${where}.${k}` : k);
  };
  nulls(args, '');
  return problems;
}
