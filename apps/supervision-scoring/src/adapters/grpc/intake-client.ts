import { credentials, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { intake, type events } from '@enforcement/contracts';
import type { History, IntakeCommands } from '../../application/ports.js';
import type { CaseScoreResult } from '../../domain/scoring-model.js';

const call = <T>(fn: (cb: (err: ServiceError | null, res: T) => void) => unknown): Promise<T> =>
  new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));

/** Every call to intake has a deadline: a stalled intake fails the firing, which is retried next tick. */
const deadline = () => ({ deadline: Date.now() + 15_000 });

/** case-intake over gRPC, as the supervisor: how the rules and evaluations close the loop. */
export class IntakeClient implements IntakeCommands, History {
  private readonly client: intake.CaseIntakeServiceClient;

  constructor(
    address: string,
    private readonly token: () => Promise<string>,
    channel: ChannelCredentials = credentials.createInsecure(),
  ) {
    this.client = new intake.CaseIntakeServiceClient(address, channel);
  }

  private async md(): Promise<Metadata> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${await this.token()}`);
    return md;
  }

  async openOrder(
    caseId: string,
    o: {
      orderId: string;
      reason: events.SupervisionReason;
      note: string;
      responseDueAt: Date;
      ruleId: string;
    },
    at: Date,
  ): Promise<void> {
    const md = await this.md();
    await call((cb) =>
      this.client.openSupervisionOrder(
        {
          meta: { commandId: o.ruleId, caseId, occurredAt: at },
          orderId: o.orderId,
          reason: o.reason,
          note: o.note,
          responseDueAt: o.responseDueAt,
          ruleId: o.ruleId,
        },
        md,
        deadline(),
        cb,
      ),
    );
  }

  async escalate(
    caseId: string,
    o: { orderId: string; reason: string; responseDueAt: Date; commandId: string },
    at: Date,
  ): Promise<void> {
    const md = await this.md();
    await call((cb) =>
      this.client.escalateSupervisionOrder(
        {
          meta: { commandId: o.commandId, caseId, occurredAt: at },
          orderId: o.orderId,
          reason: o.reason,
          responseDueAt: o.responseDueAt,
        },
        md,
        deadline(),
        cb,
      ),
    );
  }

  async recordEvaluation(
    caseId: string,
    s: CaseScoreResult,
    commandId: string,
    at: Date,
  ): Promise<void> {
    const md = await this.md();
    await call((cb) =>
      this.client.recordEvaluation(
        {
          meta: { commandId, caseId, occurredAt: at },
          score: s.score,
          modelVersion: s.modelVersion,
          indicators: s.indicators,
        },
        md,
        deadline(),
        cb,
      ),
    );
  }

  async read(caseId: string, fromVersion: number): Promise<events.CaseEvent[]> {
    const md = await this.md();
    return new Promise((resolve, reject) => {
      const out: events.CaseEvent[] = [];
      const stream = this.client.readStream({ caseId, fromVersion }, md, deadline());
      stream.on('data', (r: intake.ReadStreamResponse) => r.event && out.push(r.event));
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
    });
  }

  close(): void {
    this.client.close();
  }
}
