// The bench's console phase: a year streamed into the three services (each
// its own process), then the console over them, driven by Debian's Chromium:
// how long each page takes to show its data, cold and warm, and how long an
// order opened through intake takes to appear live on an open page.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { credentials, Metadata } from '@grpc/grpc-js';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { submitAll } from '../support/submit.js';
import { launchChromium, signIn } from '../support/console.js';
import { startService, type ServiceProcess } from './processes.js';
import { summarize, type Summary } from './stats.js';
import { benchYearOf } from './year.js';

export interface ConsoleOptions {
  readonly run: string;
  readonly brokers: readonly string[];
  readonly mongoUri: string;
  /** Events in the year loaded first (the demo's is about 10,000). */
  readonly events: number;
  /** Loads of each page measured, and orders timed live. */
  readonly samples: number;
}

export interface ConsoleResult {
  readonly events: number;
  /** Per page: the first load in a new browser context, then warm loads (ms). */
  readonly pages: Record<string, { cold: number; warm: Summary }>;
  /** From intake's acceptance of OpenSupervisionOrder to the order on an open page (ms). */
  readonly live: Summary;
  readonly consolePeakRssMiB: number;
}

/** The console as its own process (`apps/console/dist/server/main.js`), so its memory is its own. */
async function startConsoleProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['apps/console/dist/server/main.js'], {
    env: { ...process.env, OTEL_SDK_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`the console exited with ${code} before serving`)),
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^console: (http:\/\/[\d.]+:\d+)\//.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
  });
  const pid = child.pid ?? 0;
  return {
    url,
    peakRssMiB: () =>
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) /
      1024,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const unary = <T>(f: (cb: (e: Error | null, r: T) => void) => void) =>
  new Promise<T>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r))));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchConsole(o: ConsoleOptions): Promise<ConsoleResult> {
  const year = benchYearOf(o.events, 'bench-console');
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'bench', roles: ['agency', 'supervisor', 'reporting'], agencies: ['*'] })}`,
  );
  const ns = `${o.run}-console`;
  const db = (s: string) => `${ns}_${s}`.replace(/-/g, '_');
  const common = {
    KAFKA_BROKERS: o.brokers.join(','),
    MONGODB_URI: o.mongoUri,
    TOPIC_NAMESPACE: ns,
    KAFKA_CLIENT_ID: ns,
  };
  const running: ServiceProcess[] = [];
  try {
    const intakeSvc = await startService('case-intake', { ...common, MONGODB_DB: db('intake') });
    running.push(intakeSvc);
    const scoringSvc = await startService('supervision-scoring', {
      ...common,
      MONGODB_DB: db('scoring'),
      SCORING_GROUP: `${ns}.scoring`,
      INTAKE_ADDRESS: intakeSvc.address,
      RULES_TICK_MS: '0',
    });
    running.push(scoringSvc);
    const reportingSvc = await startService('reporting', {
      ...common,
      MONGODB_DB: db('reporting'),
      REPORTING_GROUP: `${ns}.reporting`,
    });
    running.push(reportingSvc);
    const insecure = credentials.createInsecure();
    const intakeClient = new intake.CaseIntakeServiceClient(intakeSvc.address, insecure);
    const scoringClient = new scoring.ScoringServiceClient(scoringSvc.address, insecure);
    const reportingClient = new reporting.ReportingServiceClient(reportingSvc.address, insecure);
    const acks = await submitAll(intakeClient, md, year.stream());
    const submittedBy = new Date();
    for (let deadline = Date.now() + 600_000; ;) {
      const [s, p] = await Promise.all([
        unary<reporting.GetAnnualStatisticsResponse>((cb) =>
          reportingClient.getAnnualStatistics(
            reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, groupBy: 1 }),
            md,
            cb,
          ),
        ),
        unary<scoring.GetProjectionStatusResponse>((cb) =>
          scoringClient.getProjectionStatus({}, md, cb),
        ),
      ]);
      if (s.asOf && s.asOf > submittedBy && p.lag === 0) break;
      if (Date.now() > deadline) throw new Error('the projections did not catch up in 10 minutes');
      await sleep(500);
    }

    const web = await startConsoleProcess({
      ENFORCEMENT_ENV: 'development',
      CONSOLE_SIGN_IN: 'development',
      CONSOLE_PORT: '0',
      CONSOLE_DEFAULT_YEAR: '2021',
      INTAKE_ADDRESS: intakeSvc.address,
      SCORING_ADDRESS: scoringSvc.address,
      REPORTING_ADDRESS: reportingSvc.address,
    });
    const browser = await launchChromium();
    try {
      // A case still open, for the orders opened live.
      let open = '';
      for (const c of year.stream()) {
        const id = (c.kind?.value as { meta?: { caseId?: string } }).meta?.caseId ?? '';
        if (!id.startsWith('LZ')) continue;
        const got = await unary<intake.GetCaseResponse>((cb) =>
          intakeClient.getCase({ caseId: id }, md, cb),
        );
        if (
          got.case?.caseType === 1 &&
          got.case.status !== intake.CaseStatus.CASE_STATUS_ARCHIVED
        ) {
          open = id;
          break;
        }
      }
      const pages: Record<string, { path: string; ready: string }> = {
        overview: {
          path: '/',
          ready: '[data-testid="figure-casesRegistered"][data-value]:not([data-value="0"])',
        },
        rankings: { path: '/rankings?groupBy=AGENCY', ready: '.ant-table-tbody tr.ant-table-row' },
        orders: { path: '/orders', ready: '.ant-table-tbody tr.ant-table-row' },
        case: { path: `/cases/${open}`, ready: '[data-version]' },
        operations: { path: '/operations', ready: '[data-testid="service-intake"]' },
      };
      const timings: ConsoleResult['pages'] = {};
      for (const [name, p] of Object.entries(pages)) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        await signIn(page, web.url, { role: 'supervisor' });
        const load = async () => {
          const t0 = performance.now();
          await page.goto(`${web.url}${p.path}`);
          await page.locator(p.ready).first().waitFor({ timeout: 30_000 });
          return performance.now() - t0;
        };
        // Signing in loaded the pages' code once; a new context is the cold case.
        const coldContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const cold = await coldContext.newPage();
        await coldContext.addCookies(await context.cookies());
        const c0 = performance.now();
        await cold.goto(`${web.url}${p.path}`);
        await cold.locator(p.ready).first().waitFor({ timeout: 30_000 });
        const coldMs = performance.now() - c0;
        await coldContext.close();
        const warm: number[] = [];
        for (let i = 0; i < o.samples; i++) warm.push(await load());
        timings[name] = { cold: coldMs, warm: summarize(warm) };
        await context.close();
      }

      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const watcher = await context.newPage();
      await signIn(watcher, web.url, { role: 'supervisor' });
      await watcher.getByText('实时连接正常').waitFor();
      const live: number[] = [];
      for (let i = 0; i < o.samples; i++) {
        const orderId = `BENCH-${o.run}-${i}`;
        await unary<intake.CommandResult>((cb) =>
          intakeClient.openSupervisionOrder(
            intake.OpenSupervisionOrderRequest.fromPartial({
              meta: { commandId: `${orderId}-open`, caseId: open },
              orderId,
              reason: 7,
              note: 'bench',
              responseDueAt: new Date(Date.now() + 15 * 86_400_000),
            }),
            md,
            cb,
          ),
        );
        const t0 = performance.now();
        await watcher
          .locator(`[data-testid="live-orders"] [data-order="${orderId}"]`)
          .waitFor({ timeout: 30_000 });
        live.push(performance.now() - t0);
        await sleep(200);
      }
      await context.close();
      intakeClient.close();
      scoringClient.close();
      reportingClient.close();
      const hwm = web.peakRssMiB();
      return {
        events: acks.filter((a) => a.accepted).length,
        pages: timings,
        live: summarize(live),
        consolePeakRssMiB: hwm,
      };
    } finally {
      await browser.close();
      await web.stop();
    }
  } finally {
    for (const s of running.reverse()) await s.stop();
  }
}
