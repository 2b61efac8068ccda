import type { Binary, Db, Collection } from 'mongodb';
import { deflatedJson, inflatedJson } from '@enforcement/mongo-kit';
import type { CaseFacts } from '../../domain/facts.js';
import type { FactPage, FactStore, Progress } from '../../application/ports.js';

interface PageDoc {
  _id: string;
  month: string;
  years: number[];
  count: number;
  /** The page's case facts as one JSON blob: a server that speaks the MongoDB
   * wire protocol returns one large value far faster than thousands of small documents. */
  facts: Binary;
  /**
   * How `facts` is encoded: `deflate` (raw DEFLATE of the JSON), or absent
   * for the plain JSON that pages were written in before. Deflated, a page
   * is about a seventh of the bytes: each rewrite costs the local server
   * (FerretDB, which reads the old document and writes the new one as
   * JSON) and PostgreSQL under it that much less.
   */
  enc?: 'deflate';
}

interface ProgressDoc {
  _id: string;
  partition: number;
  offset: number;
  recordedMs: number;
  waiting?: Record<string, number>;
}

const PAGES = /^facts_p(\d+)$/;
/** Collections read at once by a query. */
const READERS = 3;

/**
 * Pages of case facts, one collection per partition of the case-events topic
 * (`facts_pNN`), so one consumer writes each collection and loading a
 * partition reads only its own pages.
 */
export class MongoFactStore implements FactStore {
  private readonly progressDocs: Collection<ProgressDoc>;

  constructor(private readonly db: Db) {
    this.progressDocs = db.collection<ProgressDoc>('progress');
  }

  private pages(partition: number): Collection<PageDoc> {
    return this.db.collection<PageDoc>(`facts_p${String(partition).padStart(2, '0')}`);
  }

  async loadPartition(partition: number): Promise<FactPage[]> {
    const docs = await this.pages(partition).find({}).toArray();
    return docs.map((d) => ({ id: d._id, month: d.month, years: d.years, cases: decode(d) }));
  }

  async loadPage(partition: number, id: string): Promise<FactPage | undefined> {
    const d = await this.pages(partition).findOne({ _id: id });
    return d ? { id: d._id, month: d.month, years: d.years, cases: decode(d) } : undefined;
  }

  async writePages(partition: number, pages: FactPage[]): Promise<void> {
    const c = this.pages(partition);
    await c.bulkWrite(
      pages.map((p) => ({
        replaceOne: {
          filter: { _id: p.id },
          replacement: {
            month: p.month,
            years: p.years,
            count: p.cases.length,
            facts: deflatedJson(JSON.stringify(p.cases)),
            enc: 'deflate',
          },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  }

  async saveProgress(p: Progress): Promise<void> {
    await this.progressDocs.replaceOne({ _id: `p${p.partition}` }, p, { upsert: true });
  }

  async loadCompleteThrough(): Promise<number> {
    const doc = await this.db
      .collection<{ _id: string; ms: number }>('complete_through')
      .findOne({ _id: 'all' });
    return doc?.ms ?? 0;
  }

  async saveCompleteThrough(ms: number): Promise<void> {
    await this.db
      .collection<{ _id: string; ms: number }>('complete_through')
      .replaceOne({ _id: 'all' }, { ms }, { upsert: true });
  }

  async progress(): Promise<Progress[]> {
    const docs = await this.progressDocs.find({}).toArray();
    return docs.map(({ partition, offset, recordedMs, waiting }) => ({
      partition,
      offset,
      recordedMs,
      ...(waiting ? { waiting } : {}),
    }));
  }

  async partitionsWithFacts(): Promise<number[]> {
    return (await this.db.listCollections({}, { nameOnly: true }).toArray())
      .flatMap((c) => {
        const m = PAGES.exec(c.name);
        return m ? [Number(m[1])] : [];
      })
      .sort((a, b) => a - b);
  }

  /** Reads the partitions' pages a few at a time, so the server fetches while this process decodes. */
  async forEachCaseOfYear(
    year: number,
    each: (facts: CaseFacts, partition: number) => void,
    partitions?: readonly number[],
  ): Promise<void> {
    const queue = [...(partitions ?? (await this.partitionsWithFacts()))];
    const read = async (partition: number) => {
      const cursor = this.pages(partition).find({ years: year }, { batchSize: 8 });
      for await (const page of cursor) for (const facts of decode(page)) each(facts, partition);
    };
    const worker = async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) await read(p);
    };
    await Promise.all(Array.from({ length: Math.min(READERS, queue.length) }, worker));
  }

  async drop(): Promise<void> {
    await this.db.dropDatabase();
  }
}

const decode = (d: Pick<PageDoc, 'facts' | 'enc'>): CaseFacts[] =>
  JSON.parse(
    d.enc === 'deflate' ? inflatedJson(d.facts) : Buffer.from(d.facts.buffer).toString('utf8'),
  ) as CaseFacts[];
