import type { intake } from '@enforcement/contracts';
import { EXIT, type Command } from '../cli.js';
import { ADDRESSES, intakeClient, metadata } from '../connect.js';
import { address, print } from '../output.js';

/** `enforce audit`: every case in the event store against its keyed chain and its checkpoint. */
export const audit: Command = {
  name: 'audit',
  service: 'intake',
  summary: 'verify every case in the event store: edits, deletions, truncation, forged appends',
  usage: 'audit [--intake ADDR]',
  options: { intake: { type: 'string' } },
  help: [
    '--intake <addr>   case-intake (default $ENFORCE_INTAKE or 127.0.0.1:50051)',
    'needs the supervisor role',
    'exit status: 0 every history intact; 3 a history is broken or gone (each is listed)',
  ],
  async run(v) {
    const md = await metadata(v.token as string | undefined);
    const client = intakeClient(address(v, 'intake', ADDRESSES.intake));
    const findings: intake.AuditFinding[] = [];
    let summary: intake.AuditSummary | undefined;
    try {
      const stream = client.auditStore({}, md);
      for await (const item of stream as AsyncIterable<intake.AuditStoreResponse>) {
        if (item.item?.$case === 'finding') findings.push(item.item.value);
        if (item.item?.$case === 'summary') summary = item.item.value;
      }
    } finally {
      client.close();
    }
    const lines = findings.map(
      (f) =>
        `${f.caseId}: BROKEN at version ${f.firstBadVersion}${f.firstBadPosition ? ` (position ${f.firstBadPosition})` : ''}: ${f.problem}`,
    );
    if (summary)
      lines.push(
        `${summary.casesChecked} cases, ${summary.eventsChecked} events checked against ${summary.checkpointsKnown} checkpoints: ` +
          (summary.brokenCases === 0
            ? 'every history intact'
            : `${summary.brokenCases} broken (${summary.missingCases} gone from the store)`),
      );
    print({ findings, summary }, lines.join('\n'), v.json);
    return findings.length === 0 && summary ? EXIT.ok : EXIT.partial;
  },
};
