import { describeFinding, fuzzMany } from '../test/fuzz/fuzz-run.ts';
import { fmt } from './lib/report.ts';
import { recordRobustness, stampLine } from './robustness.ts';

/** `npm run bench -- --fuzz N`: N inputs against a real server; inputs/s and findings. */
export async function fuzzBench(root: string, count: number, seed: number, maxMinutes = Infinity): Promise<number> {
  const log = (s: string) => process.stderr.write(`[fuzz] ${s}\n`);
  log(`${count} inputs, seed ${seed}`);
  const r = await fuzzMany(count, seed, (done) => {
    if (done % 5000 === 0 || done === count) log(`${done} inputs`);
  }, Date.now() + maxMinutes * 60_000);
  const s = r.stats;
  const lines = [
    '### Fuzzing',
    '',
    stampLine(`\`npm run bench -- --fuzz ${count} --fuzz-seed ${seed}${Number.isFinite(maxMinutes) ? ` --fuzz-minutes ${maxMinutes}` : ''}\``) +
      (r.stats.inputs < count ? ` Stopped by --fuzz-minutes after ${fmt(r.stats.inputs)} of ${fmt(count)} inputs.` : ''),
    '',
    `| inputs | inputs/s | findings | valid / near-valid / invalid | Kea / JSON-RPC HTTP / WebSocket / XenAPI positional | accepted / refused / no answer to judge |`,
    '|---|---|---|---|---|---|',
    `| ${fmt(s.inputs)} | ${fmt(r.inputsPerSecond, 1)} | ${r.findingCount} (${r.findings.length} distinct) | ${fmt(s.byKind['valid'] ?? 0)} / ${fmt(s.byKind['near-valid'] ?? 0)} / ${fmt(s.byKind['invalid'] ?? 0)} | ${fmt(s.byWire['kea'] ?? 0)} / ${fmt(s.byWire['jsonrpc-http'] ?? 0)} / ${fmt(s.byWire['jsonrpc-ws'] ?? 0)} / ${fmt(s.byWire['xenapi'] ?? 0)} | ${fmt(s.accepted)} / ${fmt(s.rejected)} / ${fmt(s.unanswered)} |`,
    '',
    'Each input costs three requests (state digest before, the input, digest after); inputs/s counts inputs. ' +
      'Checked per input: an answer within 20 s, well-formed for its wire (parsed as JSON, never compared as bytes), the process alive, and no state change when the command was refused.',
    ...(r.findings.length > 0 ? ['', 'Findings:', '', '```', ...r.findings.map(describeFinding), '```'] : []),
  ];
  recordRobustness(root, 'fuzz', lines.join('\n'));
  console.log(lines.join('\n'));
  return r.findingCount === 0 ? 0 : 1;
}
