import type { Collection, Db } from 'mongodb';
import type { AccessLog } from '../../application/ports.js';

interface AccessDoc {
  subject: string;
  caseId: string;
  call: string;
  at: Date;
}

/**
 * Reads of personal data, one document each, in intake's database: who read
 * which case's party identifiers, when, by which call. Append-only for the
 * service; retention is the deployment's to set (docs/security.md).
 */
export class MongoAccessLog implements AccessLog {
  readonly collection: Collection<AccessDoc>;

  constructor(db: Db) {
    this.collection = db.collection<AccessDoc>('personal_data_access');
  }

  async init(): Promise<void> {
    await this.collection.createIndex({ caseId: 1, at: 1 });
  }

  async record(entries: readonly AccessDoc[]): Promise<void> {
    if (entries.length === 0) return;
    await this.collection.insertMany(entries.map((e) => ({ ...e })));
  }
}
