#!/usr/bin/env node
// enforce: the platform's command line. Every subcommand answers --help.
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { EXIT, helpOf, int, parse, suggest, UsageError, type Command } from './cli.js';
import { ADDRESSES, SERVICES, setCallTimeout } from './connect.js';
import { audit } from './commands/audit.js';
import { reconcile } from './commands/reconcile.js';
import { generate } from './commands/generate.js';
import { orders, report, rules, scores, verify } from './commands/queries.js';
import { submit } from './commands/submit.js';

const COMMANDS: readonly Command[] = [
  submit,
  scores,
  orders,
  rules,
  report,
  verify,
  audit,
  reconcile,
  generate,
];

const usage = () =>
  [
    'enforce: supervise administrative law enforcement from the command line',
    '',
    'usage: enforce <command> [options]   (enforce <command> --help for its options)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`),
    '',
    'services: $ENFORCE_INTAKE, $ENFORCE_SCORING, $ENFORCE_REPORTING (default 127.0.0.1:50051-50053)',
    'token: --token, $ENFORCE_TOKEN_FILE (read again when a long submit needs it) or $ENFORCE_TOKEN; without one, a development token',
    'exit status: 0 done, 1 failed, 2 bad usage, 3 done with rejected items or failed checks',
    '--version: the version of enforce and of the contracts it speaks',
    '',
  ].join('\n');

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `enforce ${pkg.version} (contracts enforcement.{intake,scoring,reporting}.v1, Node.js ${process.versions.node})\n`;
}

/** What went wrong, in words that say what to do next. */
function explain(cmd: Command, values: Record<string, unknown>, e: unknown): string {
  const se = e as Partial<ServiceError> & NodeJS.ErrnoException;
  if (typeof se.code === 'number') {
    const code = grpcStatus[se.code] ?? String(se.code);
    const details = (se.details ?? se.message ?? '').replace(/\.?\s*Resolution note:\s*$/, '');
    const service = cmd.service && SERVICES[cmd.service];
    if (service && cmd.service) {
      const flag = values[cmd.service];
      const address = typeof flag === 'string' ? flag : ADDRESSES[cmd.service];
      const where =
        typeof flag === 'string'
          ? `${service.flag} ${address}`
          : `$${service.variable}${process.env[service.variable] ? '' : ' (not set: the default)'}`;
      if (se.code === grpcStatus.UNAVAILABLE)
        return `${service.name} is not answering at ${address}, from ${where}. Is it running? Point ${service.flag} or $${service.variable} at it. (${details})`;
      if (se.code === grpcStatus.DEADLINE_EXCEEDED)
        return `${service.name} at ${address} did not answer within ${String(values.timeout ?? 30)} s (--timeout to wait longer)`;
    }
    if (se.code === grpcStatus.UNAUTHENTICATED)
      return `${code}: ${details}. The token comes from --token, $ENFORCE_TOKEN_FILE or $ENFORCE_TOKEN${values.token === undefined && !process.env.ENFORCE_TOKEN && !process.env.ENFORCE_TOKEN_FILE ? ' (none is set: a development token was used, which only a service in development accepts)' : ''}`;
    if (se.code === grpcStatus.PERMISSION_DENIED)
      return `${code}: ${details} (the token's roles and agencies decide what it may do)`;
    return `${code}: ${details}`;
  }
  if (se.code === 'ENOENT' && se.path) return `no such file: ${se.path}`;
  if (se.code === 'EACCES' && se.path) return `not allowed to read or write ${se.path}`;
  if (se.code === 'EISDIR' && se.path) return `${se.path} is a directory, not a file`;
  return (e as Error).message;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(version());
    return EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    const near = suggest(
      name,
      COMMANDS.map((c) => c.name),
    );
    process.stderr.write(
      `enforce: unknown command '${name}'${near ? ` (did you mean '${near}'?)` : ''}\n\n${usage()}`,
    );
    return EXIT.usage;
  }
  let values: Record<string, string | boolean | undefined> = {};
  try {
    const parsed = parse(cmd, rest);
    values = parsed.values;
    if (values.help) {
      process.stdout.write(helpOf(cmd));
      return EXIT.ok;
    }
    const timeout = int(values, 'timeout', 30);
    if (timeout < 1) throw new UsageError('--timeout must be at least 1 second');
    setCallTimeout(timeout * 1000);
    return await cmd.run(values, parsed.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`enforce ${cmd.name}: ${e.message}\n\n${helpOf(cmd)}`);
      return EXIT.usage;
    }
    process.stderr.write(`enforce ${cmd.name}: ${explain(cmd, values, e)}\n`);
    return EXIT.failed;
  }
}

// Piped into `head` and the like: a closed stdout ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
