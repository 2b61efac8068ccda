#!/usr/bin/env node
// enforce: the platform's command line. Every subcommand answers --help.
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { EXIT, helpOf, parse, UsageError, type Command } from './cli.js';
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
    'token: --token or $ENFORCE_TOKEN; without one, a development token',
    'exit status: 0 done, 1 failed, 2 bad usage, 3 done with rejected items or failed checks',
    '',
  ].join('\n');

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`enforce: unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      process.stdout.write(helpOf(cmd));
      return EXIT.ok;
    }
    return await cmd.run(values, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`enforce ${cmd.name}: ${e.message}\n\n${helpOf(cmd)}`);
      return EXIT.usage;
    }
    const se = e as Partial<ServiceError>;
    if (typeof se.code === 'number') {
      const code = grpcStatus[se.code] ?? String(se.code);
      process.stderr.write(`enforce ${cmd.name}: ${code}: ${se.details ?? se.message ?? ''}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`enforce ${cmd.name}: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

// Piped into `head` and the like: a closed stdout ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
