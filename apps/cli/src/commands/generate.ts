import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { intake } from '@enforcement/contracts';
import {
  generateYear,
  reconsiderationsForCases,
  reconsiderationsOf,
  type GeneratedYear,
  type GroundTruth,
} from '@enforcement/generator';
import { int, UsageError, type Command, EXIT } from '../cli.js';
import { Progress } from '../progress.js';

/** Ground truth as plain JSON (maps as objects, handling days summarized). */
export function truthJson(t: GroundTruth) {
  const figures = (f: GroundTruth['overall']) => {
    const { handlingDays, ...rest } = f;
    return { ...rest, handlingDaysTotal: handlingDays.reduce((s, d) => s + d, 0) };
  };
  const group = <K>(m: Map<K, GroundTruth['overall']>) =>
    Object.fromEntries([...m].map(([k, f]) => [String(k), figures(f)]));
  return {
    year: t.year,
    overall: figures(t.overall),
    byAgency: group(t.byAgency),
    byDistrict: group(t.byDistrict),
    byDomain: group(t.byDomain),
  };
}

export const generate: Command = {
  name: 'generate',
  summary: "write a year of the city's enforcement as NDJSON intake commands, and its ground truth",
  usage: 'generate [--year 2021] [--cases N | --events N] [--seed S] [--out FILE] [--truth FILE]',
  options: {
    year: { type: 'string' },
    cases: { type: 'string' },
    events: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string', short: 'o' },
    truth: { type: 'string' },
    evaluate: { type: 'boolean' },
    reconsiderations: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  },
  help: [
    '--year <yyyy>     the year (default 2021); it must be over',
    '--cases <n>       enforcement cases registered in the year (default 10000)',
    '--events <n>      about this many events instead (about 9.5 per case)',
    '--seed <s>        same seed, same commands (default liuzhou)',
    '-o, --out <file>  write the commands here (default: stdout)',
    '--truth <file>    write the ground-truth totals here as JSON',
    '--evaluate        include case evaluations (when no scoring service records them)',
    "--reconsiderations <n>  reconsiderations accepted, in the seed report's proportions",
    '                  (default: 463 per 10,000 cases, as in the seed; asked for more than',
    '                  its penalties can carry, a year says how many fit)',
    '-q, --quiet       no progress bar',
  ],
  async run(v) {
    const events = int(v, 'events', 0);
    const cases = events > 0 ? Math.ceil(events / 9.4) : int(v, 'cases', 10_000);
    if (cases < 1) throw new UsageError('--cases must be at least 1');
    const reconsiderations = int(v, 'reconsiderations', reconsiderationsForCases(cases));
    let year: GeneratedYear;
    try {
      year = generateYear({
        year: int(v, 'year', 2021),
        cases,
        seed: typeof v.seed === 'string' ? v.seed : undefined,
        evaluate: v.evaluate === true,
        reconsideration: reconsiderationsOf(reconsiderations),
      });
    } catch (e) {
      // Sizes the generator cannot plan are the caller's to change.
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    const toFile = typeof v.out === 'string' && v.out !== '-';
    const out = toFile ? createWriteStream(v.out as string) : process.stdout;
    const progress = new Progress(
      'generate',
      year.commands,
      v.quiet !== true && (toFile || !process.stdout.isTTY),
    );
    for (const command of year.stream()) {
      if (!out.write(`${JSON.stringify(intake.Command.toJSON(command))}\n`))
        await once(out, 'drain');
      progress.tick();
    }
    if (toFile) {
      out.end();
      await once(out, 'finish');
    }
    const done = progress.finish();
    if (typeof v.truth === 'string')
      writeFileSync(v.truth, `${JSON.stringify(truthJson(year.truth), null, 2)}\n`);
    const summary = { commands: done.count, cases, reviews: year.reviews, seconds: done.seconds };
    if (toFile)
      process.stdout.write(
        v.json
          ? `${JSON.stringify(summary)}\n`
          : `wrote ${done.count} commands of ${cases} cases and ${year.reviews} reconsiderations (${reconsiderations} accepted) to ${String(v.out)}\n`,
      );
    return EXIT.ok;
  },
};
