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
 * Splits a year's commands over `n` clients by agency, as independent
 * agencies' own clients would send them: a case's commands, and a review's
 * (it goes with the agency whose decision it challenges), all through one.
 * Order within each part is the year's.
 */
export function splitByAgency(commands: Iterable<intake.Command>, n: number): intake.Command[][] {
  const agencyOf = new Map<string, string>();
  const parts: intake.Command[][] = Array.from({ length: n }, () => []);
  for (const c of commands) {
    const id = c.kind?.value.meta?.caseId ?? '';
    if (c.kind?.$case === 'registerCase') agencyOf.set(id, c.kind.value.agencyId);
    if (c.kind?.$case === 'fileReconsideration') agencyOf.set(id, c.kind.value.respondentAgencyId);
    const agency = agencyOf.get(id) ?? '';
    const h = [...agency].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) >>> 0, 7);
    parts[h % n]?.push(c);
  }
  return parts;
}
