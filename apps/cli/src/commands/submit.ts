import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { intake } from '@enforcement/contracts';
import { EXIT, type Command } from '../cli.js';
import { ADDRESSES, intakeClient, metadata } from '../connect.js';
import { Progress } from '../progress.js';

interface Problem {
  line: number;
  code: string;
  reason: string;
}

/** Lines in a file, counted without holding it, for the progress bar's total. */
function countLines(path: string): number {
  const buf = readFileSync(path);
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 10) n++;
  return n;
}

export const submit: Command = {
  name: 'submit',
  summary: 'stream NDJSON intake commands (a file or stdin) through SubmitEvents',
  usage: 'submit [FILE|-] [--intake HOST:PORT]',
  options: {
    intake: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  },
  help: [
    'FILE              NDJSON, one enforcement.intake.v1.Command per line (default: stdin)',
    '--intake <addr>   case-intake address (default $ENFORCE_INTAKE or 127.0.0.1:50051)',
    '-q, --quiet       no progress bar',
    'exit status: 0 all accepted (or already there); 3 some lines were rejected; 1 the stream failed',
  ],
  async run(v, [file]) {
    const fromFile = file !== undefined && file !== '-';
    const total = fromFile ? countLines(file) : undefined;
    const progress = new Progress('submit', total, v.quiet !== true);
    const client = intakeClient(typeof v.intake === 'string' ? v.intake : ADDRESSES.intake);
    const stream = client.submitEvents(await metadata(v.token as string | undefined));
    const problems: Problem[] = [];
    let accepted = 0;
    let duplicates = 0;
    let rejected = 0;
    let invalid = 0;
    let sent = 0;
    let acked = 0;
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (a: intake.SubmitEventsResponse) => {
        acked++;
        progress.tick();
        if (!a.accepted) {
          rejected++;
          if (problems.length < 20)
            problems.push({ line: a.sequence, code: a.errorCode, reason: a.reason });
        } else if (a.duplicate) duplicates++;
        else accepted++;
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const input = fromFile ? createReadStream(file) : process.stdin;
    let line = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (!text.trim()) continue;
      let command: intake.Command;
      try {
        command = intake.Command.fromJSON(JSON.parse(text));
        if (!command.kind) throw new Error('no command in it');
      } catch (e) {
        // A bad line is reported and skipped; the stream goes on.
        invalid++;
        progress.tick();
        if (problems.length < 20)
          problems.push({ line, code: 'LINE.INVALID', reason: (e as Error).message });
        continue;
      }
      sent++;
      if (!stream.write({ sequence: line, command }))
        await new Promise((r) => stream.once('drain', r));
    }
    stream.end();
    await ended;
    client.close();
    const done = progress.finish();
    const summary = {
      sent,
      acked,
      accepted,
      duplicates,
      rejected,
      invalid,
      seconds: done.seconds,
      problems,
    };
    if (v.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `${accepted} accepted, ${duplicates} already there, ${rejected} rejected, ${invalid} unreadable lines; ${Math.round(sent / Math.max(done.seconds, 0.001))} commands/s\n`,
      );
      for (const p of problems) process.stdout.write(`  line ${p.line}: ${p.code} ${p.reason}\n`);
    }
    return rejected + invalid > 0 ? EXIT.partial : EXIT.ok;
  },
};
