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
