import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { status as grpcStatus, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { hasRole, type Principal } from '@enforcement/auth';
import { events, intake, reporting, scoring } from '@enforcement/contracts';
import { apiErrorOf, bearer, unary, type Services } from './services.js';
import type { Session } from './session.js';

type Env = { Variables: { session: Session; md: Metadata } };

/** The largest request body the API reads (bytes). */
const MAX_BODY_BYTES = 64 * 1024;

/** Rebuilds take as long as the topic is deep; the console waits for one at most this long (ms). */
const REBUILD_DEADLINE_MS = 60 * 60_000;

const enumOf = <T>(fromJSON: (v: unknown) => T, prefix: string, raw: string | undefined): T =>
  fromJSON(raw ? `${prefix}${raw.toUpperCase()}` : 0);

const timeOf = (raw: string | undefined, field: string): Date | undefined => {
  if (!raw) return undefined;
  const t = new Date(raw);
  if (Number.isNaN(t.getTime())) throw new BadRequest(field, `'${raw}' is not a date and time`);
  return t;
};

class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const fail = (c: Context, e: unknown) => {
  if (e instanceof BadRequest)
    return c.json(
      {
        error: {
          grpc: 'INVALID_ARGUMENT',
          code: 'CONSOLE.BAD_REQUEST',
          field: e.field,
          message: `${e.field}: ${e.message}`,
        },
      },
      400,
    );
  const { status, body } = apiErrorOf(e);
  return c.json(body, status as 400);
};

const idOf = (c: Context) => c.req.param('id') ?? '';

const notFound = (e: unknown) => (e as Partial<ServiceError>).code === grpcStatus.NOT_FOUND;

/** What the pages may show the signed-in person, by role. */
export const capabilitiesOf = (p: Principal) => ({
  supervise: hasRole(p, 'supervisor'),
  answer: hasRole(p, 'agency'),
  operate: hasRole(p, 'supervisor'),
  report: hasRole(p, 'supervisor') || hasRole(p, 'reporting'),
});

/** The JSON API the pages use: each route one or a few gRPC calls, made with the person's own token. */
export function api(
  s: Services,
  session: (c: Context) => Promise<Session | undefined>,
  defaultYear: number,
) {
  const app = new Hono<Env>();

  // Commands are a few hundred bytes: a larger body is refused before it is read whole.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json(
          {
            error: {
              grpc: 'INVALID_ARGUMENT',
              code: 'CONSOLE.BODY_TOO_LARGE',
              field: 'body',
              message: `body: larger than ${MAX_BODY_BYTES} bytes`,
            },
          },
          413,
        ),
    }),
  );
  app.use('*', async (c, next) => {
    const found = await session(c);
    if (!found)
      return c.json(
        {
          error: {
            grpc: 'UNAUTHENTICATED',
            code: 'AUTH.SIGN_IN',
            field: '',
            message: 'sign in first',
          },
        },
        401,
      );
    // Writes must come from the console's own pages: a cross-site form cannot set this header.
    if (c.req.method !== 'GET' && c.req.header('x-console-request') !== '1')
      return c.json(
        {
          error: {
            grpc: 'PERMISSION_DENIED',
            code: 'CONSOLE.CROSS_SITE',
            field: '',
            message: 'request not sent by the console',
          },
        },
        403,
      );
    c.set('session', found);
    c.set('md', bearer(found.token));
    await next();
  });

  const route = (run: (c: Context<Env>) => Promise<unknown>) => async (c: Context<Env>) => {
    try {
      const out = await run(c);
      return out instanceof Response ? out : c.json(out);
    } catch (e) {
      return fail(c, e);
    }
  };

  app.get(
    '/me',
    route(async (c) => {
      const p = c.get('session').principal;
      return {
        subject: p.subject,
        roles: p.roles,
        agencies: p.agencies,
        can: capabilitiesOf(p),
        defaultYear: defaultYear || new Date(Date.now() + 8 * 3_600_000).getUTCFullYear(),
      };
    }),
  );

  app.get(
    '/statistics',
    route(async (c) => {
      const q = c.req.query();
      const year = Number(q.year);
      if (!Number.isInteger(year)) throw new BadRequest('year', 'is required, e.g. 2021');
      let recordedThrough = timeOf(q.recordedThrough, 'recordedThrough');
      const ask = (groupBy: reporting.StatisticsGroupBy, asOf: Date | undefined) =>
        unary<reporting.GetAnnualStatisticsResponse>((cb) =>
          s.reporting.getAnnualStatistics(
            {
              year,
              groupBy,
              asOf,
              basis: enumOf(reporting.asOfBasisFromJSON, 'AS_OF_BASIS_', q.basis),
              recordedThrough,
              district: q.district ?? '',
              agencyId: q.agency ?? '',
            },
            c.get('md'),
            cb,
          ),
        );
      const G = reporting.StatisticsGroupBy;
      // Every grouping as of the one moment the first answer reflects.
      const overall = await ask(G.STATISTICS_GROUP_BY_NONE, timeOf(q.asOf, 'asOf'));
      if (overall.basis === reporting.AsOfBasis.AS_OF_BASIS_OCCURRED)
        recordedThrough = overall.recordedThrough;
      const [agency, district, month] = await Promise.all([
        ask(G.STATISTICS_GROUP_BY_AGENCY, overall.asOf),
        ask(G.STATISTICS_GROUP_BY_DISTRICT, overall.asOf),
        ask(G.STATISTICS_GROUP_BY_MONTH, overall.asOf),
      ]);
      const json = reporting.GetAnnualStatisticsResponse.toJSON;
      return {
        overall: json(overall),
        agency: json(agency),
        district: json(district),
        month: json(month),
      };
    }),
  );

  app.get(
    '/scores',
    route(async (c) => {
      const q = c.req.query();
      const r = await unary<scoring.ListScoresResponse>((cb) =>
        s.scoring.listScores(
          scoring.ListScoresRequest.fromPartial({
            groupBy: enumOf(scoring.groupByFromJSON, 'GROUP_BY_', q.groupBy ?? 'AGENCY'),
            periodKind: enumOf(scoring.periodKindFromJSON, 'PERIOD_KIND_', q.periodKind ?? 'YEAR'),
            period: q.period ?? '',
            agencyId: q.agency ?? '',
            district: q.district ?? '',
            domain: enumOf(events.domainFromJSON, 'DOMAIN_', q.domain),
            ascending: q.ascending === 'true',
            pageSize: Number(q.pageSize ?? 0),
            pageToken: q.pageToken ?? '',
          }),
          c.get('md'),
          cb,
        ),
      );
      return scoring.ListScoresResponse.toJSON(r);
    }),
  );

  app.get(
    '/cases/:id',
    route(async (c) => {
      const caseId = idOf(c);
      const md = c.get('md');
      const [found, score] = await Promise.all([
        unary<intake.GetCaseResponse>((cb) => s.intake.getCase({ caseId }, md, cb)),
        unary<scoring.GetCaseScoreResponse>((cb) =>
          s.scoring.getCaseScore({ caseId }, md, cb),
        ).catch((e: unknown) => {
          // Not scored yet (still open): the page shows the history without a score.
          if (notFound(e)) return undefined;
          throw e;
        }),
      ]);
      // The orders whose actions the case's history no longer calls for, as the order list keeps them.
      const flagged =
        (found.case?.orders.length ?? 0) === 0
          ? []
          : (
              await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
                s.scoring.listSupervisionOrders(
                  scoring.ListSupervisionOrdersRequest.fromPartial({
                    caseId,
                    agencyId: found.case?.agencyId ?? '',
                    unwarrantedOnly: true,
                    pageSize: 1000,
                  }),
                  md,
                  cb,
                ),
              )
            ).orders;
      return {
        ...(intake.GetCaseResponse.toJSON(found) as object),
        score: score?.score ? scoring.CaseScore.toJSON(score.score) : null,
        unwarranted: Object.fromEntries(flagged.map((o) => [o.orderId, o.unwarrantedActions])),
      };
    }),
  );

  app.get(
    '/cases',
    route(async (c) => {
      const q = c.req.query();
      const year = Number(q.year);
      if (!Number.isInteger(year)) throw new BadRequest('year', 'is required, e.g. 2021');
      const r = await unary<reporting.ListCasesResponse>((cb) =>
        s.reporting.listCases(
          reporting.ListCasesRequest.fromPartial({
            year,
            agencyId: q.agency ?? '',
            unitId: q.unit ?? '',
            officerId: q.officer ?? '',
            district: q.district ?? '',
            aboutCaseId: q.about ?? '',
            pageSize: Number(q.pageSize ?? 0),
            pageToken: q.pageToken ?? '',
          }),
          c.get('md'),
          cb,
        ),
      );
      return reporting.ListCasesResponse.toJSON(r);
    }),
  );

  app.get(
    '/orders',
    route(async (c) => {
      const q = c.req.query();
      const r = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
        s.scoring.listSupervisionOrders(
          scoring.ListSupervisionOrdersRequest.fromPartial({
            agencyId: q.agency ?? '',
            status: enumOf(scoring.orderStatusFromJSON, 'ORDER_STATUS_', q.status),
            reason: enumOf(events.supervisionReasonFromJSON, 'SUPERVISION_REASON_', q.reason),
            overdueOnly: q.overdue === 'true',
            escalatedOnly: q.escalated === 'true',
            unwarrantedOnly: q.unwarranted === 'true',
            caseId: q.caseId ?? '',
            pageSize: Number(q.pageSize ?? 0),
            pageToken: q.pageToken ?? '',
          }),
          c.get('md'),
          cb,
        ),
      );
      return scoring.ListSupervisionOrdersResponse.toJSON(r);
    }),
  );

  /** Command fields the page sends: its own command id, so a retried click is recognised. */
  const metaOf = (b: Record<string, unknown>): intake.CommandMeta => {
    const commandId = typeof b.commandId === 'string' && b.commandId ? b.commandId : '';
    const caseId = typeof b.caseId === 'string' ? b.caseId : '';
    if (!commandId) throw new BadRequest('commandId', 'is required');
    if (!caseId) throw new BadRequest('caseId', 'is required');
    return { commandId, caseId, occurredAt: undefined };
  };
  const text = (b: Record<string, unknown>, field: string) =>
    typeof b[field] === 'string' ? (b[field] as string) : '';
  const body = async (c: Context<Env>) => {
    const b: unknown = await c.req.json().catch(() => undefined);
    if (typeof b !== 'object' || b === null) throw new BadRequest('body', 'must be a JSON object');
    return b as Record<string, unknown>;
  };
  const result = (r: intake.CommandResult) => intake.CommandResult.toJSON(r);

  app.post(
    '/orders',
    route(async (c) => {
      const b = await body(c);
      const r = await unary<intake.CommandResult>((cb) =>
        s.intake.openSupervisionOrder(
          {
            meta: metaOf(b),
            orderId: text(b, 'orderId') || `SUP-${randomUUID()}`,
            reason: enumOf(
              events.supervisionReasonFromJSON,
              'SUPERVISION_REASON_',
              text(b, 'reason'),
            ),
            note: text(b, 'note'),
            responseDueAt: timeOf(text(b, 'responseDueAt'), 'responseDueAt'),
            ruleId: '',
          },
          c.get('md'),
          cb,
        ),
      );
      return result(r);
    }),
  );

  app.post(
    '/orders/:id/escalate',
    route(async (c) => {
      const b = await body(c);
      const r = await unary<intake.CommandResult>((cb) =>
        s.intake.escalateSupervisionOrder(
          {
            meta: metaOf(b),
            orderId: idOf(c),
            reason: text(b, 'reason'),
            responseDueAt: timeOf(text(b, 'responseDueAt'), 'responseDueAt'),
          },
          c.get('md'),
          cb,
        ),
      );
      return result(r);
    }),
  );

  app.post(
    '/orders/:id/answer',
    route(async (c) => {
      const b = await body(c);
      const r = await unary<intake.CommandResult>((cb) =>
        s.intake.answerSupervisionOrder(
          { meta: metaOf(b), orderId: idOf(c), answer: text(b, 'answer') },
          c.get('md'),
          cb,
        ),
      );
      return result(r);
    }),
  );

  app.get(
    '/report',
    route(async (c) => {
      const q = c.req.query();
      const year = Number(q.year);
      if (!Number.isInteger(year)) throw new BadRequest('year', 'is required, e.g. 2021');
      const format = enumOf(reporting.reportFormatFromJSON, 'REPORT_FORMAT_', q.format ?? 'HTML');
      const r = await unary<reporting.RenderAnnualReportResponse>((cb) =>
        s.reporting.renderAnnualReport(
          {
            year,
            format,
            asOf: timeOf(q.asOf, 'asOf'),
            basis: enumOf(reporting.asOfBasisFromJSON, 'AS_OF_BASIS_', q.basis),
            recordedThrough: timeOf(q.recordedThrough, 'recordedThrough'),
          },
          c.get('md'),
          cb,
        ),
      );
      const ext = { 1: 'json', 2: 'csv', 3: 'md', 4: 'html' }[format as 1 | 2 | 3 | 4] ?? 'txt';
      const headers: Record<string, string> = {
        'content-type': r.contentType,
        'x-report-digest': r.digest,
        'x-report-as-of': r.asOf?.toISOString() ?? '',
        'x-report-position': String(r.position),
        'content-security-policy':
          "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
      };
      if (q.download === 'true')
        headers['content-disposition'] = `attachment; filename="enforcement-report-${year}.${ext}"`;
      return new Response(Buffer.from(r.content), { headers });
    }),
  );

  app.get(
    '/operations',
    route(async (c) => {
      const md = c.get('md');
      const info = async (name: 'intake' | 'scoring' | 'reporting') =>
        unary<{ serviceName: string; version: string; gitCommit: string; startedAt?: Date }>((cb) =>
          s.info[name].getServerInfo({}, md, cb),
        ).then(
          (r) => ({
            name,
            up: true,
            version: r.version,
            commit: r.gitCommit,
            startedAt: r.startedAt?.toISOString() ?? '',
          }),
          (e: unknown) => ({ name, up: false, error: apiErrorOf(e).body.error.message }),
        );
      const [projection, rules, ...services] = await Promise.all([
        unary<scoring.GetProjectionStatusResponse>((cb) =>
          s.scoring.getProjectionStatus({}, md, cb),
        ),
        unary<scoring.GetRulesStatusResponse>((cb) => s.scoring.getRulesStatus({}, md, cb)),
        info('intake'),
        info('scoring'),
        info('reporting'),
      ]);
      return {
        projection: scoring.GetProjectionStatusResponse.toJSON(projection),
        rules: scoring.GetRulesStatusResponse.toJSON(rules),
        services,
      };
    }),
  );

  app.post(
    '/operations/parked/:id/release',
    route(async (c) => {
      const r = await unary<scoring.ReleaseParkedCaseResponse>((cb) =>
        s.scoring.releaseParkedCase({ caseId: idOf(c) }, c.get('md'), cb),
      );
      return scoring.ReleaseParkedCaseResponse.toJSON(r);
    }),
  );

  app.post(
    '/operations/rebuild',
    route(async (c) => {
      // A rebuild runs for minutes: it is started here and followed on the operations page.
      // Scoring refuses it at once to anyone but a supervisor, or while one runs.
      const started = new Promise<void>((resolve, reject) => {
        s.scoring.rebuildReadModels(
          {},
          c.get('md'),
          { deadline: Date.now() + REBUILD_DEADLINE_MS },
          (e) => {
            if (e) reject(e);
          },
        );
        setTimeout(resolve, 1_500);
      });
      await started;
      return c.json({ started: true }, 202);
    }),
  );

  return app;
}
