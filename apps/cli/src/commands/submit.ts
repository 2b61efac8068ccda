import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { intake } from '@enforcement/contracts';
import { EXIT, int, type Command } from '../cli.js';
import { ADDRESSES, bearerMetadata, intakeClient, tokenSource } from '../connect.js';
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

type Stream = ClientDuplexStream<intake.SubmitEventsRequest, intake.SubmitEventsResponse>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One SubmitEvents stream that survives intake restarting: every command
 * stays pending until answered; when the stream breaks, a new stream is
 * opened after a backoff and every pending command sent again (retries are
 * idempotent: the same command id and payload). A command answered
 * UNAVAILABLE (its store away for a moment), and those behind it on its
 * case, are sent again in the same stream after a backoff, which keeps the
 * stream's hold on their agencies' rule clocks (docs/intake.md); until
 * 2026-12-07 the stream was given up and they went again in a new one, after
 * the rules could have judged their agencies past them. Without progress for
 * `retryForMs` it gives up.
 */
class ResilientSubmitter {
  readonly pending = new Map<number, intake.Command>();
  private stream: Stream | undefined;
  private broken: Promise<void> | undefined;
  private lastProgress = Date.now();
  /** Wait before the next stream: doubles with every break without an answer between. */
  private backoffMs = 0;
  /** Streams opened again after one broke. */
  retries = 0;
  /** Commands sent again in their stream after it answered them UNAVAILABLE. */
  resent = 0;
  /** Commands the current stream answered UNAVAILABLE, by sequence, to send again there. */
  private readonly unavailable = new Set<number>();
  private resending: NodeJS.Timeout | undefined;

  /** Why the last stream broke, for the person waiting. */
  private lastError: string | undefined;
  private warned = false;

  constructor(
    private readonly open: () => Promise<Stream>,
    private readonly onAnswer: (a: intake.SubmitEventsResponse) => void,
    private readonly retryForMs: number,
    /** Where intake is, and what sets it, as a failure names it. */
    private readonly where: string,
    /**
     * Whether a token other than the one intake refused is at hand now (a
     * token file the identity provider rotated): the run goes on with it.
     */
    private readonly renewed: () => Promise<boolean> = () => Promise.resolve(false),
  ) {}

  /** Why intake refused the token of the last stream, until a new token is found. */
  private refused: string | undefined;

  /** Sends one command, waiting for room (or for a new stream) first. */
  async send(sequence: number, command: intake.Command): Promise<void> {
    this.pending.set(sequence, command);
    const s = await this.ready();
    if (!s.write({ sequence, command })) await this.drained(s);
  }

  /** Resolves once every pending command is answered. */
  async finish(): Promise<void> {
    while (this.pending.size > 0) {
      await this.ready();
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = this.stream;
    if (!s) return;
    this.stream = undefined;
    s.end();
    await new Promise<void>((resolve) => {
      s.once('end', resolve);
      s.once('error', () => resolve());
      s.once('status', () => resolve());
    });
  }

  private drained(s: Stream): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        s.off('drain', done);
        s.off('error', done);
        resolve();
      };
      s.once('drain', done);
      s.once('error', done);
    });
  }

  private async ready(): Promise<Stream> {
    for (;;) {
      if (this.stream) return this.stream;
      this.broken ??= this.reconnect().finally(() => (this.broken = undefined));
      await this.broken;
    }
  }

  private async reconnect(): Promise<void> {
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.refused !== undefined) {
        if (!(await this.renewed())) throw (this.fatal = new Error(this.refused));
        this.refused = undefined;
      }
      if (this.gaveUp()) throw this.gaveUp();
      if (this.retries > 0) this.warn();
      await sleep(this.nextBackoff());
      const s = await this.open();
      const life = this.attach(s);
      // Everything unanswered goes again, in order, before anything new.
      for (const [sequence, command] of [...this.pending].sort((a, b) => a[0] - b[0])) {
        if (life.dead) break;
        if (!s.write({ sequence, command })) await this.drained(s);
      }
      if (!life.dead) {
        this.stream = s;
        return;
      }
      this.retries++;
    }
  }

  /** Why the run stops: no progress for `retryForMs` (undefined while there is time). */
  private gaveUp(): Error | undefined {
    if (Date.now() - this.lastProgress <= this.retryForMs) return undefined;
    return new Error(
      `case-intake ${this.where} did not answer for ${Math.round(this.retryForMs / 1000)} s${this.lastError ? ` (${this.lastError})` : ''}`,
    );
  }

  /** Said once, on stderr: the command is waiting, not stuck. */
  private warn(): void {
    if (this.warned || !this.lastError) return;
    this.warned = true;
    process.stderr.write(
      `enforce submit: case-intake ${this.where} is not answering (${this.lastError}); retrying for up to ${Math.round(this.retryForMs / 1000)} s (--retry-for)\n`,
    );
  }

  /** The wait before the next try: doubles with every try without an answer between. */
  private nextBackoff(): number {
    const wait = this.backoffMs;
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 250), 5_000);
    return wait;
  }

  /**
   * Sends the commands `s` answered UNAVAILABLE again in it, in their order,
   * after a backoff; once there has been no progress for `retryForMs`, gives
   * the stream up, and the run stops saying why.
   */
  private resendLater(s: Stream, life: { dead: boolean; die: () => void }): void {
    if (this.resending) return;
    this.resending = setTimeout(
      () => {
        this.resending = undefined;
        void this.resend(s, life);
      },
      Math.max(this.nextBackoff(), 250),
    );
  }

  private async resend(s: Stream, life: { dead: boolean; die: () => void }): Promise<void> {
    if (life.dead) return; // a new stream sends every pending command
    const again = [...this.unavailable].sort((a, b) => a - b);
    this.unavailable.clear();
    const gaveUp = this.gaveUp();
    if (gaveUp) {
      this.fatal ??= gaveUp;
      return life.die();
    }
    this.warn();
    for (const sequence of again) {
      const command = this.pending.get(sequence);
      if (!command) continue;
      this.resent++;
      if (!s.write({ sequence, command })) await this.drained(s);
      if (life.dead) return;
    }
  }

  private attach(s: Stream): { dead: boolean } {
    const life = { dead: false, die: () => undefined as void };
    const die = () => {
      if (life.dead) return;
      life.dead = true;
      // Its pending commands go again on the next stream, in order.
      this.unavailable.clear();
      clearTimeout(this.resending);
      this.resending = undefined;
      s.cancel();
      if (this.stream === s) {
        this.stream = undefined;
        this.retries++;
      }
    };
    life.die = die;
    s.on('data', (a: intake.SubmitEventsResponse) => {
      // A transient fault for this item (or one before it on its case): it
      // stays pending and goes again in this stream after a backoff.
      if (a.statusCode === status.UNAVAILABLE) {
        this.lastError = `UNAVAILABLE: ${a.reason}`;
        this.unavailable.add(Number(a.sequence));
        return this.resendLater(s, life);
      }
      // The token expired while the stream was open: nothing more will be
      // stored with it. The item stays pending: it goes again with a new
      // token if there is one, else the run stops here.
      if (a.statusCode === status.UNAUTHENTICATED) {
        this.refused ??= `UNAUTHENTICATED: ${a.reason}`;
        return die();
      }
      if (!this.pending.delete(Number(a.sequence))) return;
      this.lastProgress = Date.now();
      this.backoffMs = 0;
      this.onAnswer(a);
    });
    s.on('error', (e: ServiceError) => {
      this.lastError = `${status[e.code] ?? e.code}: ${(e.details || e.message).replace(/\s*Resolution note:\s*$/, '')}`;
      if (e.code === status.UNAUTHENTICATED) this.refused ??= this.lastError;
      if (e.code === status.PERMISSION_DENIED) this.fatal ??= e;
      die();
    });
    s.on('end', die);
    return life;
  }

  /** Why no stream will be answered again (the token is refused): the run stops. */
  fatal: Error | undefined;
}

export const submit: Command = {
  name: 'submit',
  service: 'intake',
  summary: 'stream NDJSON intake commands (a file or stdin) through SubmitEvents',
  usage: 'submit [FILE|-] [--intake HOST:PORT] [--retry-for SECONDS]',
  options: {
    intake: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    'retry-for': { type: 'string' },
  },
  help: [
    'FILE              NDJSON, one enforcement.intake.v1.Command per line (default: stdin)',
    '--intake <addr>   case-intake address (default $ENFORCE_INTAKE or 127.0.0.1:50051)',
    '--retry-for <s>   keep retrying an unreachable or unavailable intake this long (default 120)',
    '-q, --quiet       no progress bar',
    'token: read again from $ENFORCE_TOKEN_FILE when intake refuses the one in use (it expired during the run), so a file an identity provider rotates carries a long run on',
    'exit status: 0 all accepted (or already there); 3 some lines were rejected; 1 intake stayed unreachable, or refused the token with no new one at hand, with a summary of what was answered',
  ],
  async run(v, [file]) {
    const fromFile = file !== undefined && file !== '-';
    const total = fromFile ? countLines(file) : undefined;
    const progress = new Progress('submit', total, v.quiet !== true);
    const address = typeof v.intake === 'string' ? v.intake : ADDRESSES.intake;
    const client = intakeClient(address);
    const tokens = tokenSource(v.token as string | undefined);
    // The token each stream opened with: a refused one is not tried again.
    let streamToken = '';
    const problems: Problem[] = [];
    let accepted = 0;
    let duplicates = 0;
    let rejected = 0;
    let invalid = 0;
    let sent = 0;
    let acked = 0;
    const submitter = new ResilientSubmitter(
      async () => {
        streamToken = await tokens();
        return client.submitEvents(bearerMetadata(streamToken));
      },
      (a) => {
        acked++;
        progress.tick();
        if (!a.accepted) {
          rejected++;
          if (problems.length < 20)
            problems.push({ line: Number(a.sequence), code: a.errorCode, reason: a.reason });
        } else if (a.duplicate) duplicates++;
        else accepted++;
      },
      int(v, 'retry-for', 120) * 1000,
      `at ${address} (${typeof v.intake === 'string' ? '--intake' : '$ENFORCE_INTAKE'})`,
      async () => (await tokens()) !== streamToken,
    );
    let failure: Error | undefined;
    try {
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
        await submitter.send(line, command);
        if (submitter.fatal) throw submitter.fatal;
      }
      await submitter.finish();
      if (submitter.fatal) throw submitter.fatal;
    } catch (e) {
      failure = e as Error;
    } finally {
      client.close();
    }
    const done = progress.finish();
    const summary = {
      sent,
      acked,
      accepted,
      duplicates,
      rejected,
      invalid,
      unanswered: submitter.pending.size,
      reconnects: submitter.retries,
      resent: submitter.resent,
      seconds: done.seconds,
      problems,
      ...(failure ? { failure: failure.message } : {}),
    };
    if (v.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `${accepted} accepted, ${duplicates} already there, ${rejected} rejected, ${invalid} unreadable lines; ${Math.round(sent / Math.max(done.seconds, 0.001))} commands/s${submitter.retries ? `; ${submitter.retries} reconnects` : ''}${submitter.resent ? `; ${submitter.resent} sent again after UNAVAILABLE` : ''}\n`,
      );
      for (const p of problems) process.stdout.write(`  line ${p.line}: ${p.code} ${p.reason}\n`);
      if (failure)
        process.stdout.write(
          `stopped: ${failure.message}; ${submitter.pending.size} commands were not answered (submit the file again: answered ones come back as already there)\n`,
        );
    }
    if (failure) return EXIT.failed;
    return rejected + invalid > 0 ? EXIT.partial : EXIT.ok;
  },
};
