import type { Consumer, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import type { Verifier } from '@enforcement/auth';
import { requestProblem, requestTypeOf } from '@enforcement/grpc-kit';
import { Header, headerString } from '@enforcement/messaging';
import type { IntakeDeps } from '../../application/execute-command.js';
import { acknowledge } from '../grpc/submit-events.js';
import { rejection } from '../grpc/rejection.js';

export interface IngressTopics {
  readonly submissions: string;
  readonly receipts: string;
  readonly deadLetter: string;
}

export interface IngressOptions {
  readonly groupId: string;
  readonly topics: IngressTopics;
  readonly verify: Verifier;
  readonly onUnexpected: (err: unknown) => void;
}

class Malformed extends Error {}

const submission = () => {
  const desc = requestTypeOf('/enforcement.intake.v1.CaseIntakeService/SubmitEvents');
  if (!desc) throw new Error('SubmitEventsRequest is not among the contracts');
  return desc;
};

/** Headers that carry credentials, however a producer spells them. */
const CREDENTIAL_HEADERS = /^(authorization|proxy-authorization|cookie|x-api-key|x-auth-token)$/i;

/** The `authorization` header, spelled in any case (Kafka header names are case-sensitive, HTTP's are not). */
function bearerOf(headers: IHeaders | undefined): string | undefined {
  const name = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === 'authorization');
  return name === undefined ? undefined : headerString(headers, name);
}

/** A copy of the headers without credentials, for anything that leaves the ingress. */
export function withoutCredentials(headers: IHeaders | undefined): IHeaders {
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([name]) => !CREDENTIAL_HEADERS.test(name)),
  );
}

/** A submission as JSON (proto3 JSON mapping) or, with a protobuf content type, binary. */
function decode(message: KafkaMessage): intake.SubmitEventsRequest {
  const raw = message.value;
  if (!raw || raw.length === 0) throw new Malformed('empty message');
  const type = headerString(message.headers, Header.contentType) ?? 'application/json';
  let item: intake.SubmitEventsRequest;
  const binary = type.includes('protobuf');
  const problem = binary ? requestProblem(submission(), raw) : undefined;
  if (problem) throw new Malformed(problem);
  try {
    item = binary
      ? intake.SubmitEventsRequest.decode(raw)
      : intake.SubmitEventsRequest.fromJSON(JSON.parse(raw.toString('utf8')));
  } catch (e) {
    throw new Malformed(`cannot decode as ${type}: ${(e as Error).message}`);
  }
  if (!item.command?.kind) throw new Malformed('no command in the submission');
  return item;
}

/**
 * Agencies that publish to Kafka instead of calling gRPC: each submission
 * carries its bearer token in an `authorization` header and gets a receipt
 * (the same acknowledgement SubmitEvents gives) on the receipts topic. A
 * message that cannot be decoded goes to the dead-letter topic with the
 * reason, and the consumer goes on.
 */
export class KafkaIngress {
  private readonly consumer: Consumer;
  private readonly producer: Producer;

  constructor(
    kafka: Kafka,
    private readonly deps: IntakeDeps,
    private readonly opts: IngressOptions,
  ) {
    this.consumer = kafka.consumer({ groupId: opts.groupId });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topics.submissions, fromBeginning: true });
    await this.consumer.run({ eachMessage: ({ message }) => this.handle(message) });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }

  private async handle(message: KafkaMessage): Promise<void> {
    let item: intake.SubmitEventsRequest;
    try {
      item = decode(message);
    } catch (e) {
      if (!(e instanceof Malformed)) throw e;
      await this.deadLetter(message, e.message);
      return;
    }
    let receipt: intake.SubmitEventsResponse;
    try {
      const principal = await this.opts.verify(bearerOf(message.headers));
      receipt = await acknowledge(this.deps, principal, item, this.opts.onUnexpected);
    } catch (e) {
      const caseId = item.command?.kind?.value.meta?.caseId ?? '';
      receipt = {
        sequence: item.sequence,
        caseId,
        version: 0,
        duplicate: false,
        index: 0,
        ...rejection(e, this.opts.onUnexpected),
      };
    }
    await this.producer.send({
      topic: this.opts.topics.receipts,
      acks: -1,
      messages: [
        {
          key: message.key ?? receipt.caseId,
          value: JSON.stringify(intake.SubmitEventsResponse.toJSON(receipt)),
          headers: {
            [Header.contentType]: 'application/json',
            'submission-offset': message.offset,
          },
        },
      ],
    });
  }

  private async deadLetter(message: KafkaMessage, reason: string): Promise<void> {
    const headers: IHeaders = {
      ...withoutCredentials(message.headers),
      [Header.error]: reason,
      'submission-offset': message.offset,
    };
    await this.producer.send({
      topic: this.opts.topics.deadLetter,
      acks: -1,
      messages: [{ key: message.key, value: message.value, headers }],
    });
  }
}
