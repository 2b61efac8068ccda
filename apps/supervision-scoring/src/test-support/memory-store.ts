import { correctionPageIdOf, pagesOfPartition } from '../domain/rollups.js';
import type {
  CaseOrders,
  CaseRecord,
  CorrectionPart,
  CorrectionRequest,
  ProjectionStore,
  RollupPage,
  RollupPageWrite,
  Refusal,
} from '../application/ports.js';

/** What the store answers when what a write was read from moved meanwhile. */
export class Conflict extends Error {}

/** Options of one process's view of the store (see `MemoryStore.client`). */
export interface ClientOptions {
  /** Microtask turns each call waits, drawn from this: how concurrent writers interleave. */
  turns?: () => number;
}

/**
 * The projection store's contract in memory, guarded as the MongoDB adapter
 * guards it: a case record is written only over the revision it was read
 * at, a rollup page only over the mark it was read at, a corrected case's
 * part of a correction page only by a later version of the case.
 */
export class MemoryStore implements ProjectionStore {
  readonly cases = new Map<string, CaseRecord>();
  readonly pages = new Map<string, RollupPage>();
  readonly corrections = new Map<string, CorrectionRequest>();
  /** The next rollup write lands, and its answer is lost. */
  loseNextShareAnswer = false;

  async getCases(ids: readonly string[]) {
    const out = new Map<string, CaseRecord>();
    for (const id of ids) {
      const r = this.cases.get(id);
      if (r) out.set(id, structuredClone(r));
    }
    return out;
  }

  casesForWrite(_partition: number, ids: readonly string[]) {
    return this.getCases(ids);
  }

  /** Each partition's rolled marks (page key → mark), as its summary holds them. */
  readonly rolled = new Map<number, Map<string, number>>();
  private rolledRev = 0;

  async writeCases(
    partition: number,
    records: readonly CaseRecord[],
    rolled: readonly string[] = [],
  ) {
    for (const r of records)
      if ((this.cases.get(r._id)?.rev ?? 0) !== r.rev) throw new Conflict(r._id);
    for (const r of records)
      this.cases.set(r._id, { ...structuredClone(r), rev: r.rev + 1, page: 'memory' });
    if (rolled.length === 0) return;
    const marks = this.rolled.get(partition) ?? new Map<string, number>();
    this.rolledRev++;
    for (const pageKey of rolled) marks.set(pageKey, this.rolledRev);
    this.rolled.set(partition, marks);
  }

  forget() {}

  async rollupPages(ids: readonly { id: string }[]) {
    const out = new Map<string, RollupPage>();
    for (const { id } of ids) {
      const page = this.pages.get(id);
      if (page) out.set(id, structuredClone(page));
    }
    return out;
  }

  async writeRollupPages(writes: readonly RollupPageWrite[]) {
    for (const w of writes)
      if ((this.pages.get(w.page._id)?.hw ?? -1) !== w.fromMark) throw new Conflict(w.page._id);
    for (const w of writes) this.pages.set(w.page._id, structuredClone(w.page));
    if (this.loseNextShareAnswer) {
      this.loseNextShareAnswer = false;
      throw new Error('connection closed before the answer');
    }
  }

  /** Each correction page's parts, by case: its version and rows. */
  readonly parts = new Map<string, Map<string, CorrectionPart>>();

  async writeCorrections(partition: number, parts: ReadonlyMap<string, readonly CorrectionPart[]>) {
    for (const [pageKey, list] of parts) {
      const id = correctionPageIdOf(pageKey, partition);
      const held = this.parts.get(id) ?? new Map<string, CorrectionPart>();
      let moved = false;
      for (const part of list)
        if ((held.get(part.caseId)?.version ?? -1) < part.version) {
          held.set(part.caseId, structuredClone(part));
          moved = true;
        }
      // As the real store: a page no part of which moved is left, mark and all.
      if (!moved) continue;
      this.parts.set(id, held);
      this.pages.set(id, {
        _id: id,
        listKey: pageKey,
        hw: (this.pages.get(id)?.hw ?? 0) + 1,
        rows: [...held.values()].flatMap((x) => x.rows),
      });
    }
  }

  async upsertOrders(_writes: readonly CaseOrders[]) {}

  async requestCorrections(requests: readonly CorrectionRequest[]) {
    for (const r of requests) if (!this.corrections.has(r._id)) this.corrections.set(r._id, r);
  }

  async correctionsFor(partition: number) {
    return [...this.corrections.values()].filter((r) => r.partition === partition && !r.refused);
  }

  async correctionsDone(ids: readonly string[]) {
    for (const id of ids) this.corrections.delete(id);
  }

  async correctionRefused(id: string, refused: Refusal) {
    const r = this.corrections.get(id);
    if (r) this.corrections.set(id, { ...r, refused });
  }

  /** A rollup's value summed over the pages of every writer. */
  rollup(rollupId: string, field: string): number {
    return this.rollups().get(rollupId)?.[field] ?? 0;
  }

  /** Every rollup's values, summed over the pages of every writer, as a listing reads them. */
  rollups(): Map<string, Record<string, number>> {
    return sumOf(this.pages.values());
  }

  /**
   * A reader that goes by the rolled marks, as listings do: it reads a
   * partition's pages of a page key again only when that partition's mark
   * of the key moved, and answers from what it read before otherwise. A key
   * a partition has no mark of, it takes to have no pages there.
   */
  markReader(): { read(): Map<string, Record<string, number>> } {
    const seen = new Map<string, { mark: number; pages: RollupPage[] }>();
    return {
      read: () => {
        for (const [partition, marks] of this.rolled)
          for (const [pageKey, mark] of marks) {
            const slice = `${pageKey}|p${partition}`;
            if (seen.get(slice)?.mark === mark) continue;
            const pages = pagesOfPartition(pageKey, partition).flatMap((id) => {
              const page = this.pages.get(id);
              return page ? [structuredClone(page)] : [];
            });
            seen.set(slice, { mark, pages });
          }
        return sumOf([...seen.values()].flatMap((s) => s.pages));
      },
    };
  }

  /**
   * One process's view of the store: its calls wait a few microtask turns
   * (so two processes' batches interleave), and one of its writes may land
   * and fail (`failAt`).
   */
  client(options: ClientOptions = {}): ProjectionStore & {
    /**
     * The client's writes from now on are counted from 1; the one with this
     * number lands and then fails, as a write whose answer a dying
     * connection lost (a crash between two writes looks the same to the rest).
     */
    failAt(n: number): void;
  } {
    let writes = 0;
    let failAt = 0;
    const turns = async () => {
      for (let n = options.turns?.() ?? 0; n > 0; n--) await Promise.resolve();
    };
    const write =
      <A extends unknown[]>(f: (...args: A) => Promise<void>) =>
      async (...args: A) => {
        await turns();
        await f(...args);
        if (++writes === failAt) throw new Error('connection closed before the answer');
      };
    const read =
      <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
      async (...args: A) => {
        await turns();
        return f(...args);
      };
    return {
      failAt: (n: number) => {
        writes = 0;
        failAt = n;
      },
      getCases: read((ids: readonly string[]) => this.getCases(ids)),
      casesForWrite: read((p: number, ids: readonly string[]) => this.casesForWrite(p, ids)),
      writeCases: write((p: number, rs: readonly CaseRecord[], rolled?: readonly string[]) =>
        this.writeCases(p, rs, rolled),
      ),
      forget: () => undefined,
      rollupPages: read((ids: readonly { id: string; listKey: string }[]) => this.rollupPages(ids)),
      writeRollupPages: write((ws: readonly RollupPageWrite[]) => this.writeRollupPages(ws)),
      writeCorrections: write((p: number, ps: ReadonlyMap<string, readonly CorrectionPart[]>) =>
        this.writeCorrections(p, ps),
      ),
      upsertOrders: write((ws: readonly CaseOrders[]) => this.upsertOrders(ws)),
      requestCorrections: write((rs: readonly CorrectionRequest[]) => this.requestCorrections(rs)),
      correctionsFor: read((p: number) => this.correctionsFor(p)),
      correctionsDone: write((ids: readonly string[]) => this.correctionsDone(ids)),
      correctionRefused: write((id: string, r: Refusal) => this.correctionRefused(id, r)),
    };
  }
}

/** Rollups' values summed over these pages. */
function sumOf(pages: Iterable<RollupPage>): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const page of pages)
    for (const row of page.rows) {
      const sums = out.get(row.id) ?? {};
      for (const [k, n] of Object.entries(row.values)) sums[k] = (sums[k] ?? 0) + n;
      out.set(row.id, sums);
    }
  return out;
}
