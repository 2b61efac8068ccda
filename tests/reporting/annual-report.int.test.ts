import { status, type ServiceError } from '@grpc/grpc-js';
import { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, reporting } from '@enforcement/contracts';
import {
  generateYear,
  planCase,
  reportedFigures,
  type Figures as Truth,
} from '@enforcement/generator';
import { listServicesByReflection } from '@enforcement/grpc-kit';
import { cityDate } from '@enforcement/reference-data';
import { eventually, stack, tokenFor, unary } from '@enforcement/testing';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';
import { submitAll } from '../support/submit.js';

describe('reporting: a generated year in, every ground-truth figure out', () => {
  let sys: WholeSystem;
  const year = generateYear({ seed: 'reporting-it', year: 2021, cases: 900, evaluate: true });
  let midway: Date;

  const statistics = async (r: Partial<reporting.GetAnnualStatisticsRequest>) => {
    const md = await tokenFor(['reporting']);
    return unary<reporting.GetAnnualStatisticsResponse>((cb) =>
      sys.reportingClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, ...r }),
        md,
        cb,
      ),
    );
  };
  const renderReport = async (r: Partial<reporting.RenderAnnualReportRequest>) => {
    const md = await tokenFor(['supervisor']);
    return unary<reporting.RenderAnnualReportResponse>((cb) =>
      sys.reportingClient.renderAnnualReport(
        reporting.RenderAnnualReportRequest.fromPartial({ year: 2021, ...r }),
        md,
        cb,
      ),
    );
  };
  /** Current figures once the projection has applied everything intake accepted. */
  const caughtUp = (after: Date) =>
    eventually(
      async () => {
        const s = await statistics({});
        return s.asOf && s.asOf > after ? s : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'reporting to catch up' },
    );

  beforeAll(async () => {
    // Scoring runs too, its rules off: the year's orders and evaluations are the generator's.
    sys = await startWholeSystem();
    const md = await tokenFor(['agency', 'supervisor'], ['*']);
    let acked = 0;
    const acks = await submitAll(sys.intakeClient, md, year.stream(), () => {
      if (++acked === Math.floor(year.commands / 2)) midway = new Date();
    });
    const rejected = acks.filter((a) => !a.accepted);
    expect(rejected.slice(0, 3)).toEqual([]);
    expect(acks).toHaveLength(year.commands);
    await caughtUp(new Date());
  }, 300_000);

  afterAll(async () => {
    await sys?.stop();
  });

  it('reproduces the overall ground truth, including the source document reconsideration figures', async () => {
    const s = await statistics({});
    expect(s.overall).toMatchObject(reportedFigures(year.truth.overall));
    expect(s.overall).toMatchObject({
      reconsiderationsAccepted: 463,
      reconsiderationsConcluded: 403,
      reconsiderationsCorrected: 81,
    });
    expect(s.position).toBeGreaterThan(0);
    expect(s.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reproduces the ground truth of every agency, district and domain', async () => {
    const byAgency = await statistics({
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
    });
    expect(byAgency.groups.map((g) => g.key).sort()).toEqual(
      [...year.truth.byAgency.keys()].sort(),
    );
    for (const g of byAgency.groups) {
      const truth = year.truth.byAgency.get(g.key);
      expect(truth, g.key).toBeDefined();
      if (truth) expect(g, g.key).toMatchObject(reportedFigures(truth));
    }
    const ranks = byAgency.groups.map((g) => g.rank).sort((a, b) => a - b);
    expect(ranks).toEqual(byAgency.groups.map((_, i) => i + 1));

    const byDistrict = await statistics({
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_DISTRICT,
    });
    expect(byDistrict.groups).toHaveLength(year.truth.byDistrict.size);
    for (const g of byDistrict.groups)
      expect(g, g.key).toMatchObject(reportedFigures(year.truth.byDistrict.get(g.key) as Truth));

    const byMonth = await statistics({
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_MONTH,
    });
    expect(byMonth.groups.map((g) => g.key)).toHaveLength(12);
    const sum = (f: (g: reporting.Statistics) => number) =>
      byMonth.groups.reduce((s, g) => s + f(g), 0);
    expect(sum((g) => g.casesRegistered)).toBe(year.truth.overall.casesRegistered);
    expect(sum((g) => g.penaltyTotalFen)).toBe(year.truth.overall.penaltyTotalFen);
  });

  it('gives the same figures and digest for the same as-of moment, and fewer than today', async () => {
    const first = await statistics({ asOf: midway });
    const second = await statistics({ asOf: midway });
    expect(second.digest).toBe(first.digest);
    expect(second.position).toBe(first.position);
    expect(first.asOf).toEqual(midway);
    const now = await statistics({});
    expect(first.overall?.casesRegistered).toBeGreaterThan(0);
    expect(first.overall?.casesRegistered).toBeLessThan(now.overall?.casesRegistered ?? 0);
    expect(first.position).toBeLessThan(now.position);
    const html1 = await renderReport({
      asOf: midway,
      format: reporting.ReportFormat.REPORT_FORMAT_HTML,
    });
    const html2 = await renderReport({
      asOf: midway,
      format: reporting.ReportFormat.REPORT_FORMAT_HTML,
    });
    expect(html1.content.equals(html2.content)).toBe(true);
    expect(html1.digest).toBe(html2.digest);
  });

  it('answers the year as it stood at a date by when things happened, reproducibly', async () => {
    const current = await statistics({
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_MONTH,
    });
    const firstHalf = current.groups.filter((g) => g.key < '2021-07');
    const sum = (f: (g: reporting.Statistics) => number) => firstHalf.reduce((s, g) => s + f(g), 0);
    // The last moment of June 30, Beijing time.
    const endOfJune = new Date(cityDate(2021, 7, 1).getTime() - 1);
    const asked = {
      asOf: endOfJune,
      basis: reporting.AsOfBasis.AS_OF_BASIS_OCCURRED,
      recordedThrough: current.asOf,
    };
    const june = await statistics(asked);
    expect(june.basis).toBe(reporting.AsOfBasis.AS_OF_BASIS_OCCURRED);
    expect(june.asOf).toEqual(endOfJune);
    expect(june.recordedThrough).toEqual(current.asOf);
    // Everything that happened by June 30 counts, though the whole year was recorded later.
    expect(june.overall).toMatchObject({
      casesRegistered: sum((g) => g.casesRegistered),
      casesConcluded: sum((g) => g.casesConcluded),
      penalties: sum((g) => g.penalties),
      penaltyTotalFen: sum((g) => g.penaltyTotalFen),
      ordersOpened: sum((g) => g.ordersOpened),
    });
    expect(june.overall?.casesRegistered).toBeGreaterThan(0);
    expect(june.overall?.casesRegistered).toBeLessThan(current.overall?.casesRegistered ?? 0);
    // On the recorded basis the same moment predates the load: nothing had been recorded.
    const recorded = await statistics({ asOf: endOfJune });
    expect(recorded.overall?.casesRegistered).toBe(0);
    expect((await statistics(asked)).digest).toBe(june.digest);

    const html = await renderReport({
      ...asked,
      format: reporting.ReportFormat.REPORT_FORMAT_HTML,
    });
    expect(html.basis).toBe(reporting.AsOfBasis.AS_OF_BASIS_OCCURRED);
    expect(html.content.toString()).toContain('按发生时间统计：截至 2021-06-30 23:59:59 北京时间');

    const refused = await statistics({ asOf: endOfJune, recordedThrough: current.asOf }).catch(
      (e: ServiceError) => e,
    );
    expect((refused as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((refused as ServiceError).details).toContain('recorded_through');
  });

  it('counts the orders still awaiting their answer at a moment, as the plan has them', async () => {
    const orders = Array.from({ length: year.options.cases }, (_, i) => {
      const plan = planCase(year.options, i);
      return plan.orders
        .filter((o) => o.openedAt >= cityDate(2021).getTime())
        .map((o) => ({ ...o, agencyId: plan.agency.id, district: plan.district }));
    }).flat();
    // An hour after the middle order opened: it, at least, is awaiting its answer.
    const middle = [...orders].sort((a, b) => a.openedAt - b.openedAt)[orders.length >> 1];
    expect(middle).toBeDefined();
    const t = (middle?.openedAt ?? 0) + 3_600_000;
    const by = (at: number | undefined) => at !== undefined && at <= t;
    const opened = orders.filter((o) => by(o.openedAt));
    const awaiting = opened.filter(
      (o) => !by(o.escalation?.at) && !by(o.answeredAt) && o.responseDueAt > t,
    );
    const late = opened.filter(
      (o) =>
        !by(o.escalation?.at) &&
        (by(o.answeredAt) ? o.answeredAt > o.responseDueAt : o.responseDueAt <= t),
    );
    expect(awaiting.length).toBeGreaterThan(0);

    const current = await statistics({});
    const asked = {
      asOf: new Date(t),
      basis: reporting.AsOfBasis.AS_OF_BASIS_OCCURRED,
      recordedThrough: current.asOf,
    };
    const then = await statistics(asked);
    expect(then.overall).toMatchObject({
      ordersOpened: opened.length,
      ordersAwaiting: awaiting.length,
    });
    const o = then.overall as reporting.Statistics;
    expect(o.ordersOpened - o.ordersAnsweredOnTime - o.ordersEscalated - o.ordersAwaiting).toBe(
      late.length,
    );
    // Today every deadline of 2021 has passed: none awaits.
    expect(current.overall?.ordersAwaiting).toBe(0);

    const csv = (
      await renderReport({ ...asked, format: reporting.ReportFormat.REPORT_FORMAT_CSV })
    ).content.toString();
    const [header, city] = csv.replace(/^\uFEFF/, '').split('\n');
    const column = header?.split(',').indexOf('ordersAwaiting') ?? -1;
    expect(column).toBeGreaterThan(0);
    expect(city?.split(',')[column]).toBe(String(awaiting.length));

    // Each agency's row, and the report of one district alone, read the same way.
    const count = (list: typeof awaiting, key: (o: (typeof awaiting)[number]) => string) => {
      const m = new Map<string, number>();
      for (const o of list) m.set(key(o), (m.get(key(o)) ?? 0) + 1);
      return m;
    };
    const byAgency = count(awaiting, (o) => o.agencyId);
    const rows = await statistics({
      ...asked,
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
    });
    expect(
      new Map(
        rows.groups.filter((g) => g.ordersAwaiting > 0).map((g) => [g.key, g.ordersAwaiting]),
      ),
    ).toEqual(byAgency);
    const district = middle?.district ?? '';
    const one = await statistics({ ...asked, district });
    expect(one.overall).toMatchObject({
      ordersOpened: opened.filter((o) => o.district === district).length,
      ordersAwaiting: count(awaiting, (o) => o.district).get(district),
    });
  });

  it('changes no figure when events are delivered again', async () => {
    const before = await statistics({
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
    });
    const duplicatesBefore = sys.reporting.consumer.stats.duplicates;
    // Read a reconsideration's and a case's events back from intake and publish them again.
    const md = await tokenFor(['reporting']);
    const again: events.CaseEvent[] = [];
    for (const caseId of ['LZ2021-R00001', 'LZ2021-000010'])
      await new Promise<void>((resolve, reject) => {
        const stream = sys.intakeClient.readStream({ caseId, fromVersion: 1 }, md);
        stream.on('data', (r: { event?: events.CaseEvent }) => r.event && again.push(r.event));
        stream.on('end', resolve);
        stream.on('error', reject);
      });
    expect(again.length).toBeGreaterThan(5);
    const producer = new Kafka({ brokers: stack().kafkaBrokers, logLevel: 0 }).producer();
    await producer.connect();
    await producer.send({
      topic: sys.topics.caseEvents,
      messages: again.map((e) => ({
        key: e.caseId,
        value: Buffer.from(events.CaseEvent.encode(e).finish()),
      })),
    });
    await producer.disconnect();
    await eventually(
      () =>
        sys.reporting.consumer.stats.duplicates >= duplicatesBefore + again.length
          ? true
          : undefined,
      { timeoutMs: 60_000, what: 'the redelivered events to be seen' },
    );
    const after = await statistics({
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
    });
    expect(after.digest).toBe(before.digest);
    expect(after.groups).toEqual(before.groups);
  });

  it('renders the report as JSON, CSV, Markdown and HTML with the same figures', async () => {
    const json = await renderReport({ format: reporting.ReportFormat.REPORT_FORMAT_JSON });
    const parsed = JSON.parse(json.content.toString('utf8')) as {
      overall: reporting.Statistics;
      groups: { AGENCY: unknown[] };
      digest: string;
    };
    expect(parsed.overall).toMatchObject(reportedFigures(year.truth.overall));
    expect(parsed.digest).toBe(json.digest);
    expect(json.contentType).toBe('application/json');

    const csvBytes = (await renderReport({ format: reporting.ReportFormat.REPORT_FORMAT_CSV }))
      .content;
    // UTF-8 with a byte-order mark: Excel on a Chinese Windows desktop reads it as UTF-8.
    expect([...csvBytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = csvBytes
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\n');
    expect(csv[0]).toContain('closureRateInYear,onTimeRate,closureRate');
    // Header, the city, then agencies, districts, domains and 12 months.
    expect(csv).toHaveLength(
      2 + year.truth.byAgency.size + year.truth.byDistrict.size + year.truth.byDomain.size + 12,
    );
    expect(csv[1]).toContain(`2021,NONE,,全市 City,${year.truth.overall.casesRegistered},`);

    const md = (
      await renderReport({ format: reporting.ReportFormat.REPORT_FORMAT_MARKDOWN })
    ).content.toString();
    expect(md).toContain('复议纠错 Corrected: **81**');

    const html = await renderReport({ format: reporting.ReportFormat.REPORT_FORMAT_HTML });
    const page = html.content.toString('utf8');
    expect(html.contentType).toBe('text/html; charset=utf-8');
    expect(page.match(/<svg /g)?.length).toBeGreaterThanOrEqual(5);
    expect(page).toContain('柳州市市场监督管理局');
    // Beijing time, every figure defined in the notes, no repository paths.
    expect(page).toContain('北京时间 (UTC+8)');
    expect(page).toContain('说明 Notes');
    expect(page).toContain('<dt>按期结案率 On time</dt>');
    expect(page).not.toContain('docs/');
    expect(page).toContain(html.digest);
    expect(html.digest).toBe(json.digest);
    // A title page naming the issuing office; tables split by theme, every column headed.
    expect(page).toContain('<p class="issuer">柳州市司法局</p>');
    const agencyTables = page.slice(page.indexOf('id="agency"'), page.indexOf('id="district"'));
    expect(agencyTables.match(/<table /g)).toHaveLength(3);
    for (const t of agencyTables.split('<table ').slice(1)) {
      const header = t.slice(0, t.indexOf('</thead>'));
      const body = t.slice(t.indexOf('<tbody>'), t.indexOf('</tbody>'));
      const firstRow = body.slice(0, body.indexOf('</tr>'));
      expect(header.match(/<th scope="col">/g)?.length).toBe(
        (firstRow.match(/<t[dh][ >]/g) ?? []).length,
      );
      expect(header.match(/<th scope="col">/g)?.length).toBeLessThanOrEqual(10);
    }
    // Agencies listed by rank, best first.
    const ranks = [
      ...(agencyTables.split('<table ')[1] ?? '').matchAll(/<\/th><td>(\d+|—)<\/td>/g),
    ].map((m) => (m[1] === '—' ? Infinity : Number(m[1])));
    expect(ranks).toHaveLength(year.truth.byAgency.size);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(page).toContain('@page');
  });

  it('serves health and reflection beside the reporting service', async () => {
    const services = await listServicesByReflection(sys.reporting.address);
    expect(services).toEqual(
      expect.arrayContaining([
        'enforcement.reporting.v1.ReportingService',
        'grpc.health.v1.Health',
        'enforcement.platform.v1.PlatformService',
      ]),
    );
  });

  it('answers a year with no data with an empty, well-formed report', async () => {
    const s = await statistics({
      year: 2019,
      groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_MONTH,
    });
    expect(s.overall?.casesRegistered).toBe(0);
    expect(s.groups).toHaveLength(12);
    const html = await renderReport({
      year: 2019,
      format: reporting.ReportFormat.REPORT_FORMAT_HTML,
    });
    expect(html.content.toString()).toContain('2019 年度行政执法统计');
  });

  it("walks the year's cases page by page: every case once, in order, as one page lists them", async () => {
    const md = await tokenFor(['supervisor']);
    const list = (r: Partial<reporting.ListCasesRequest>) =>
      unary<reporting.ListCasesResponse>((cb) =>
        sys.reportingClient.listCases(
          reporting.ListCasesRequest.fromPartial({ year: 2021, ...r }),
          md,
          cb,
        ),
      );
    const whole = await list({ pageSize: 1000 });
    expect(whole.total).toBeGreaterThan(100);
    expect(whole.total).toBeLessThanOrEqual(1000);
    expect(whole.nextPageToken).toBe('');
    const walked: string[] = [];
    const tokens: string[] = [];
    let pageToken = '';
    do {
      const page = await list({ pageSize: 37, pageToken });
      expect(page.total).toBe(whole.total);
      walked.push(...page.cases.map((c) => c.caseId));
      pageToken = page.nextPageToken;
      tokens.push(pageToken);
    } while (pageToken);
    expect(walked).toEqual(whole.cases.map((c) => c.caseId));
    expect(tokens).toHaveLength(Math.ceil(whole.total / 37));
    // A token issued before cursors (an offset) still reads its page.
    const byOffset = await list({
      pageSize: 37,
      pageToken: Buffer.from('37').toString('base64url'),
    });
    expect(byOffset.cases.map((c) => c.caseId)).toEqual(walked.slice(37, 74));
    // One it did not issue is refused, naming the field.
    for (const bad of ['after:x:case', 'after:12:', 'x', '-1', '1e3'].map((t) =>
      Buffer.from(t).toString('base64url'),
    )) {
      const e = await list({ pageToken: bad }).then(
        () => undefined,
        (x: unknown) => x as ServiceError,
      );
      expect(e?.code, bad).toBe(status.INVALID_ARGUMENT);
      expect(e?.details).toContain('page_token');
    }
  });

  it('refuses an unknown format, a future as-of moment, a bad year, agencies and strangers', async () => {
    const fails = async (p: Promise<unknown>) => {
      const e = (await p.then(
        () => undefined,
        (x: unknown) => x,
      )) as ServiceError | undefined;
      expect(e).toBeDefined();
      return e as ServiceError;
    };
    const format = await fails(
      renderReport({ format: reporting.ReportFormat.REPORT_FORMAT_UNSPECIFIED }),
    );
    expect(format.code).toBe(status.INVALID_ARGUMENT);
    expect(format.details).toContain('format');
    const future = await fails(statistics({ asOf: new Date(Date.now() + 86_400_000) }));
    expect(future.code).toBe(status.INVALID_ARGUMENT);
    expect(future.details).toContain('as_of');
    // Not in the future, but later than the figures are complete (the service settles 500 ms).
    const early = await fails(statistics({ asOf: new Date(Date.now() - 100) }));
    expect(early.code).toBe(status.FAILED_PRECONDITION);
    expect(early.details).toContain('as_of');
    const badYear = await fails(statistics({ year: 0 }));
    expect(badYear.code).toBe(status.INVALID_ARGUMENT);
    expect(badYear.details).toContain('year');
    const agency = await tokenFor(['agency'], ['lz-eeb']);
    const denied = await fails(
      unary((cb) =>
        sys.reportingClient.getAnnualStatistics(
          reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021 }),
          agency,
          cb,
        ),
      ),
    );
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    const stranger = await fails(
      unary((cb) =>
        sys.reportingClient.getAnnualStatistics(
          reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021 }),
          cb,
        ),
      ),
    );
    expect(stranger.code).toBe(status.UNAUTHENTICATED);
  });
});
