import fc from 'fast-check';
import { FuzzTarget, type FuzzStats } from './fuzz-target.ts';
import { fuzzInputs, loadCommandSchemas, type FuzzInput } from './inputs.ts';

export interface Finding {
  readonly problem: string;
  readonly input: FuzzInput;
}

export interface FuzzReport {
  readonly seed: number;
  readonly seconds: number;
  readonly inputsPerSecond: number;
  readonly stats: FuzzStats;
  /** One example per distinct problem (first 100 characters of its text). */
  readonly findings: readonly Finding[];
  readonly findingCount: number;
}

/** Inputs are drawn this many at a time (huge values are large; never hold 100k of them at once). */
const CHUNK = 500;

/**
 * Sends `count` generated inputs to a fresh real server and collects every problem without
 * stopping (`npm run bench -- --fuzz N`), or as many as fit before `deadline` (epoch ms).
 * Reproducible from `seed`.
 */
export async function fuzzMany(count: number, seed: number, progress: (done: number) => void = () => undefined, deadline = Infinity): Promise<FuzzReport> {
  const target = await FuzzTarget.start();
  const findings = new Map<string, Finding>();
  let findingCount = 0;
  const started = performance.now();
  try {
    const arb = fuzzInputs(loadCommandSchemas(), target.vocab, target.session);
    for (let done = 0; done < count && Date.now() < deadline; ) {
      const n = Math.min(CHUNK, count - done);
      for (const input of fc.sample(arb, { numRuns: n, seed: seed + done })) {
        for (const problem of await target.check(input)) {
          findingCount++;
          const key = problem.slice(0, 100);
          if (!findings.has(key)) findings.set(key, { problem, input });
        }
        if (target.broken) break;
      }
      if (target.broken) break; // a dead or unreadable server: every later input would fail alike
      done += n;
      progress(done);
    }
  } finally {
    await target.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  return { seed, seconds, inputsPerSecond: target.stats.inputs / seconds, stats: target.stats, findings: [...findings.values()], findingCount };
}

export function describeFinding(f: Finding): string {
  const body = f.input.body.length > 300 ? `${f.input.body.slice(0, 300)}… (${f.input.body.length} bytes)` : f.input.body;
  return `${f.problem}\n  input: ${f.input.wire} ${f.input.kind} ${f.input.what}\n  body: ${body}`;
}
