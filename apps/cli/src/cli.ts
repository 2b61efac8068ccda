import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest, distance } from 'fastest-levenshtein';

/** Exit codes: 0 done; 1 the work failed (a server refused or was unreachable); 2 bad usage; 3 done, but some items were rejected or a check failed. */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3 } as const;

export class UsageError extends Error {}

/** The services a command talks to, by the flag that names each one's address. */
export type Service = 'intake' | 'scoring' | 'reporting';

export interface Command {
  readonly name: string;
  /** The service it calls, so a failure to reach it can say where it was looked for. */
  readonly service?: Service;
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Lines describing each option, for --help. */
  readonly help: readonly string[];
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  token: { type: 'string' },
  timeout: { type: 'string' },
} as const;

export const COMMON_HELP = [
  '--json            machine-readable output on stdout',
  '--token <jwt>     bearer token (default: $ENFORCE_TOKEN_FILE, $ENFORCE_TOKEN, else a development token)',
  '--timeout <s>     give up on a call after this many seconds (default 30)',
  '-h, --help        this help',
];

/** The closest of `known` to what was typed, when it is close enough to be a slip. */
export function suggest(typed: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(typed, [...known]);
  return distance(typed, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

export function parse(
  cmd: Command,
  argv: string[],
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...cmd.options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(err.message)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const options = Object.keys({ ...COMMON_OPTIONS, ...cmd.options }).map((o) => `--${o}`);
      const near = suggest(unknown, options);
      throw new UsageError(
        `unknown option ${unknown}${near ? ` (did you mean ${near}?)` : ''}; enforce ${cmd.name} --help lists them`,
      );
    }
    // "Option '--year <value>' argument missing" and the like are already plain.
    throw new UsageError(err.message);
  }
}

export function helpOf(cmd: Command): string {
  return [
    `enforce ${cmd.name}: ${cmd.summary}`,
    '',
    `usage: enforce ${cmd.usage}`,
    '',
    'options:',
    ...[...cmd.help, ...COMMON_HELP].map((l) => `  ${l}`),
    '',
  ].join('\n');
}

/** A whole number option, or a usage error naming it. */
export function int(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number, got ${String(raw)}`);
  return n;
}

export function oneOf<T extends string>(
  values: Record<string, unknown>,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = String(raw).toUpperCase();
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(
      `--${name} must be one of ${allowed.map((a) => a.toLowerCase()).join(', ')}, got ${String(raw)}`,
    );
  return v as T;
}
