import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { pointerToPath, type SchemaProblem, type SchemaValidator } from '../schema-validator.ts';
import type { ConfigSource, LivesetConfig, LoadedConfig } from './config-types.ts';
import { parseConfigText, substituteEnv } from './parse-config.ts';
import configSchema from '../../../schemas/liveset.schema.json' with { type: 'json' };

/** `file:line:col: path: message` — the form kea-dhcp4 -t and compilers use, so editors can jump to it. */
export function formatProblem(source: ConfigSource, problem: SchemaProblem): string {
  const pos = source.locate(problem.pointer, problem.atKey);
  const where = pos ? `${source.file}:${pos.line}:${pos.col}` : source.file;
  const path = pointerToPath('', problem.pointer) || '(top level)';
  return `${where}: ${path}: ${problem.message}`;
}

/**
 * Reads, parses, substitutes and validates a configuration against schemas/liveset.schema.json,
 * filling in defaults. Throws ConfigError listing every problem found, or with `deferSchemaProblems`
 * returns them in `problems` (unparseable text always throws).
 */
export function loadConfigFile(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  validator: SchemaValidator,
  deferSchemaProblems = false,
): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return loadConfigText(text, file, dirname(path), env, validator, deferSchemaProblems);
}

export function loadConfigText(
  text: string,
  file: string,
  dir: string,
  env: Readonly<Record<string, string | undefined>>,
  validator: SchemaValidator,
  deferSchemaProblems = false,
): LoadedConfig {
  const { value, source } = parseConfigText(text, file, dir);
  const raw = structuredClone(value);
  const substituted = substituteEnv(value, env);
  const problems = [...substituted.problems];
  const config = substituted.value;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError([`${file}: the configuration must be a mapping (object) at the top level`]);
  }
  problems.push(...validator.compile(configSchema as Record<string, unknown>)(config));
  if (problems.length > 0 && !deferSchemaProblems) throw new ConfigError(problems.map((p) => formatProblem(source, p)));
  return { source, config: config as LivesetConfig, problems, raw };
}
