import type { Metadata } from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';

/**
 * Streams commands through SubmitEvents as fast as the server takes them
 * (waiting on 'drain' when its window is full) and resolves to every
 * acknowledgement once the server ends the stream.
 */
export function submitAll(
  client: intake.CaseIntakeServiceClient,
  md: Metadata,
  commands: Iterable<intake.Command>,
  onAck?: (a: intake.SubmitEventsResponse) => void,
): Promise<intake.SubmitEventsResponse[]> {
  return new Promise((resolve, reject) => {
    const acks: intake.SubmitEventsResponse[] = [];
    const stream = client.submitEvents(md);
    stream.on('data', (a: intake.SubmitEventsResponse) => {
      acks.push(a);
      onAck?.(a);
    });
    stream.on('end', () => resolve(acks));
    stream.on('error', reject);
    const it = commands[Symbol.iterator]();
    let sequence = 0;
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) return stream.end();
        if (!stream.write({ sequence: ++sequence, command: next.value }))
          return stream.once('drain', pump);
      }
    };
    pump();
  });
}

/**
 * Which of `n` parts an agency's commands go to, as independent agencies'
 * own clients would send them: a case's commands, and a review's (it goes
 * with the agency whose decision it challenges), all through one. Call it
 * with the commands in the year's order.
 */
function agencyParts(n: number): (c: intake.Command) => number {
  const agencyOf = new Map<string, string>();
  return (c) => {
    const id = c.kind?.value.meta?.caseId ?? '';
    if (c.kind?.$case === 'registerCase') agencyOf.set(id, c.kind.value.agencyId);
    if (c.kind?.$case === 'fileReconsideration') agencyOf.set(id, c.kind.value.respondentAgencyId);
    const agency = agencyOf.get(id) ?? '';
    return [...agency].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) >>> 0, 7) % n;
  };
}

/** Splits a year's commands over `n` clients by agency (`agencyParts`); order within each part is the year's. */
export function splitByAgency(commands: Iterable<intake.Command>, n: number): intake.Command[][] {
  const partOf = agencyParts(n);
  const parts: intake.Command[][] = Array.from({ length: n }, () => []);
  for (const c of commands) parts[partOf(c)]?.push(c);
  return parts;
}

/**
 * Streams commands through `n` SubmitEvents streams at once, split by agency
 * (`agencyParts`), each as fast as the server takes it, in one pass over
 * the commands (a stream whose window is full holds the others until it
 * drains). Resolves, once every stream has ended, to every acknowledgement
 * with the command's position in `commands` (from 1).
 */
export function submitSplit(
  client: intake.CaseIntakeServiceClient,
  md: Metadata,
  commands: Iterable<intake.Command>,
  n: number,
  onAck?: (a: intake.SubmitEventsResponse) => void,
): Promise<{ position: number; ack: intake.SubmitEventsResponse }[]> {
  return new Promise((resolve, reject) => {
    const answers: { position: number; ack: intake.SubmitEventsResponse }[] = [];
    /** Each stream's commands' positions, by their sequence in it. */
    const positions: number[][] = Array.from({ length: n }, () => []);
    let open = n;
    const streams = positions.map((sent) => {
      const stream = client.submitEvents(md);
      stream.on('data', (a: intake.SubmitEventsResponse) => {
        answers.push({ position: sent[Number(a.sequence) - 1] ?? 0, ack: a });
        onAck?.(a);
      });
      stream.on('end', () => {
        if (--open === 0) resolve(answers);
      });
      stream.on('error', reject);
      return stream;
    });
    const partOf = agencyParts(n);
    const it = commands[Symbol.iterator]();
    let position = 0;
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) {
          for (const stream of streams) stream.end();
          return;
        }
        const k = partOf(next.value);
        const sent = positions[k];
        const stream = streams[k];
        if (!sent || !stream) return reject(new Error(`no stream ${k} of ${n}`));
        sent.push(++position);
        if (!stream.write({ sequence: sent.length, command: next.value }))
          return stream.once('drain', pump);
      }
    };
    pump();
  });
}
