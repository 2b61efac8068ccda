import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { reporting } from '@enforcement/contracts';
import { connectMongo } from '@enforcement/mongo-kit';
import { eventually, repoRoot, stack, tokenFor, uniqueName, unary } from '@enforcement/testing';
import { prometheusScraper } from '../support/metrics.js';
import {
  concludeLate,
  deadlineOrders,
  historyOf,
  registerOverdueCase,
} from '../support/overdue-case.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The alert rules the compose file's Prometheus loads. */
const rules = (): Rule[] =>
  (
    parse(readFileSync(join(repoRoot(), 'infra/prometheus/alerts.yml'), 'utf8')) as {
      groups: { rules: Rule[] }[];
    }
  ).groups.flatMap((g) => g.rules);

/** Every query of the provisioned Grafana dashboards, as alert-like rules: a title and an expression. */
const panels = (): Rule[] =>
  readdirSync(join(repoRoot(), 'infra/grafana/dashboards'))
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      const d = JSON.parse(
        readFileSync(join(repoRoot(), 'infra/grafana/dashboards', f), 'utf8'),
      ) as {
        title: string;
        panels: { title: string; targets: { expr: string }[] }[];
      };
      return d.panels.flatMap((p) =>
        p.targets.map((t) => ({ alert: `${d.title} / ${p.title}`, expr: t.expr })),
      );
    });

/** The metric names an expression reads: ours (enforcement_) and the database conventions' (db_client_). */
const namesIn = (expr: string) => [
  ...new Set(expr.match(/\b(?:enforcement|db_client)_[a-z0-9_]+/g) ?? []),
];

describe('the alerts and dashboards read metrics the services export, under the names they use', () => {
  // The Prometheus exposition the services give a scraper, as the compose file's Prometheus reads it.
  let scraper: ReturnType<typeof prometheusScraper>;
  const scrape = () => scraper.scrape();
  let sys: WholeSystem;

  beforeAll(async () => {
    scraper = prometheusScraper();
    sys = await startWholeSystem({ rulesTickMs: 300 });
  }, 120_000);

  afterAll(async () => {
    await sys?.stop();
    await scraper?.close();
  });

  it('counts, once each by agency and rule, the rule actions a fact dated before them but stored after takes away', async () => {
    const caseId = uniqueName('late-fact');
    await registerOverdueCase(sys, caseId);
    await deadlineOrders(sys, caseId);
    const counted = async () => {
      const text = await scrape();
      const of = (rule: string) =>
        [...text.matchAll(/^enforcement_supervision_unwarranted_actions_total\{([^}]*)\} (\S+)/gm)]
          .filter((m) => m[1]?.includes('agency="lz-eeb"') && m[1].includes(`rule="${rule}"`))
          .reduce((n, m) => n + Number(m[2]), 0);
      return { approaching: of('approaching'), overdue: of('overdue'), escalate: of('escalate') };
    };
    expect(await counted()).toEqual({ approaching: 0, overdue: 0, escalate: 0 });
    await concludeLate(sys, caseId);
    await eventually(
      async () => {
        const c = await counted();
        return c.escalate === 3 ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'the five actions counted' },
    );
    // Later events of the case (its evaluation) count nothing again.
    await eventually(
      async () =>
        (await historyOf(sys, caseId)).some((e) => e.payload?.$case === 'caseEvaluated')
          ? true
          : undefined,
      { timeoutMs: 30_000, what: 'the case evaluated' },
    );
    await sys.scoring.runtime.tick();
    expect(await counted()).toEqual({ approaching: 1, overdue: 1, escalate: 3 });
  });

  it('exports every metric an alert rule or a dashboard panel names, once the pipeline has moved', async () => {
    const caseId = uniqueName('alerted');
    await registerOverdueCase(sys, caseId);
    // And one refused: a registration without parties.
    await registerOverdueCase(sys, `${caseId}-bad`, { parties: false }).catch(() => undefined);
    // And a year's statistics asked for.
    const reader = await tokenFor(['reporting']);
    await unary<reporting.GetAnnualStatisticsResponse>((cb) =>
      sys.reportingClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021 }),
        reader,
        cb,
      ),
    ).catch(() => undefined);
    // And a store call that fails, as the services' client reports it.
    const mongo = await connectMongo(stack().mongoUri, 'alert_metrics');
    await mongo.db.command({ noSuchCommand: 1 }).catch(() => undefined);
    await mongo.close();
    const all = [...rules(), ...panels()];
    const wanted = [...new Set(all.flatMap((r) => namesIn(r.expr)))];
    const text = await eventually(
      async () => {
        const t = await scrape();
        return wanted.every((n) => new RegExp(`^${n}(\\{| )`, 'm').test(t)) ? t : undefined;
      },
      { timeoutMs: 60_000, what: 'every metric an alert names to be exported', intervalMs: 1_000 },
    ).catch(async (e: unknown) => {
      const t = await scrape();
      const missing = wanted.filter((n) => !new RegExp(`^${n}(\\{| )`, 'm').test(t));
      throw new Error(
        `${(e as Error).message}; missing ${missing.join(', ')}; exported:\n${[...new Set(t.match(/^(?:enforcement|db_client)_[a-z0-9_]+/gm))].join('\n')}`,
      );
    });
    // One rule per condition the operators asked for, each reading an exported metric.
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'PublicationStalled',
        'ConsumerLagGrowing',
        'ParkedCase',
        'DeadLetter',
        'EventsWaitingForGap',
        'EscalatedOrderUnanswered',
        'RulesNotGettingThrough',
        'UnwarrantedRuleActions',
        'StoreUnreachable',
        'HashChainBreak',
      ]),
    );
    for (const r of all) expect(namesIn(r.expr), r.alert).not.toEqual([]);
    // Every label a rule groups or filters by is on the series it reads
    // (job and instance come from Prometheus's scrape).
    for (const r of all) {
      const exported = new Set(['job', 'instance']);
      for (const n of namesIn(r.expr))
        for (const m of text.matchAll(new RegExp(`^${n}\\{([^}]*)\\}`, 'gm')))
          for (const l of (m[1] ?? '').matchAll(/(\w+)="/g)) exported.add(l[1] ?? '');
      const used = [
        ...[...r.expr.matchAll(/\b(?:by|on|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
          (m[1] ?? '')
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        ),
        ...[...r.expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
          [...(m[1] ?? '').matchAll(/(\w+)\s*=/g)].map((x) => x[1] ?? ''),
        ),
      ];
      for (const label of used) expect(exported, `${r.alert}: label ${label}`).toContain(label);
    }
    for (const n of wanted) expect(text).toMatch(new RegExp(`^${n}(\\{| )`, 'm'));
  });

  it("is what the compose file's Prometheus loads, scraping every service", () => {
    const config = parse(
      readFileSync(join(repoRoot(), 'infra/prometheus/prometheus.yml'), 'utf8'),
    ) as { rule_files: string[]; scrape_configs: { job_name: string }[] };
    expect(config.rule_files).toEqual(['alerts.yml']);
    expect(config.scrape_configs.map((c) => c.job_name).sort()).toEqual([
      'case-intake',
      'reporting',
      'supervision-scoring',
    ]);
    const compose = parse(readFileSync(join(repoRoot(), 'infra/docker-compose.yml'), 'utf8')) as {
      services: Record<string, { volumes?: string[] }>;
    };
    expect(compose.services.prometheus?.volumes).toContain('./prometheus:/etc/prometheus:ro');
    // Grafana provisions the Prometheus data source and every dashboard file.
    expect(compose.services.grafana?.volumes).toEqual([
      './grafana/provisioning:/etc/grafana/provisioning:ro',
      './grafana/dashboards:/var/lib/grafana/dashboards:ro',
    ]);
    const provider = parse(
      readFileSync(
        join(repoRoot(), 'infra/grafana/provisioning/dashboards/enforcement.yml'),
        'utf8',
      ),
    ) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
    const source = parse(
      readFileSync(
        join(repoRoot(), 'infra/grafana/provisioning/datasources/prometheus.yml'),
        'utf8',
      ),
    ) as { datasources: { uid: string; url: string }[] };
    expect(source.datasources[0]).toMatchObject({
      uid: 'prometheus',
      url: 'http://prometheus:9090',
    });
    // Four dashboards: the pipeline, and one per service, each panel on that data source.
    const titles = readdirSync(join(repoRoot(), 'infra/grafana/dashboards')).sort();
    expect(titles).toEqual([
      'case-intake.json',
      'pipeline.json',
      'reporting.json',
      'supervision-scoring.json',
    ]);
  });
});
