import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@enforcement/testing';

const infra = join(repoRoot(), 'infra');
const read = (path: string) => readFileSync(join(infra, path), 'utf8');

/**
 * The Compose Specification's schema, as Docker Compose itself validates
 * with it: from compose-go, through the Go module proxy (cached by Go).
 */
const COMPOSE_GO = 'github.com/compose-spec/compose-go/v2@v2.16.2';

async function composeSchema(): Promise<object> {
  const { stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', COMPOSE_GO], {
    timeout: 180_000,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  });
  const { Dir } = JSON.parse(stdout) as { Dir: string };
  return JSON.parse(readFileSync(join(Dir, 'schema', 'compose-spec.json'), 'utf8')) as object;
}

/** PromQL syntax errors in `expr`, by Prometheus's own grammar (the one its web UI parses with). */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError)
        errors.push(`at ${node.from}: '${expr.slice(node.from, node.from + 20)}'`);
    },
  });
  return errors;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const alertRules = (): Rule[] =>
  (
    parse(read('prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] }
  ).groups.flatMap((g) => g.rules);

describe('infra: the compose file, Prometheus, Grafana and the collector configuration', () => {
  it('the compose file is valid by the Compose Specification and every file it mounts exists', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    const validate = ajv.compile(await composeSchema());
    // Compose reads YAML merge keys (`<<: *service-env`), so the test does too.
    const compose = parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<
        string,
        {
          volumes?: (string | { source: string })[];
          image?: string;
          build?: { context: string; dockerfile: string };
        }
      >;
    };
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);

    const missing: string[] = [];
    for (const [name, svc] of Object.entries(compose.services))
      for (const v of svc.volumes ?? []) {
        const source = typeof v === 'string' ? (v.split(':')[0] ?? '') : v.source;
        if (source.startsWith('.') && !existsSync(join(infra, source)))
          missing.push(`${name}: ${source}`);
      }
    // The services built here: from the repository, by their own Dockerfile.
    const built = Object.entries(compose.services).filter(([, svc]) => svc.build);
    expect(built.map(([name]) => name).sort()).toEqual([
      'case-intake',
      'reporting',
      'supervision-scoring',
    ]);
    for (const [name, svc] of built) {
      const context = join(infra, svc.build?.context ?? '-');
      if (!existsSync(join(context, svc.build?.dockerfile ?? '-')))
        missing.push(`${name}: ${svc.build?.dockerfile}`);
    }
    expect(missing).toEqual([]);
    // Every service names an image with a version, never `latest`.
    for (const [name, svc] of Object.entries(compose.services))
      expect(`${name}: ${svc.image}`).toMatch(/:[^:]*\d[^:]*$/);
  }, 240_000);

  it('every alert rule parses as PromQL, has a severity, a summary and a runbook section that exists', () => {
    const runbook = readFileSync(join(repoRoot(), 'docs/operations.md'), 'utf8');
    const sections = new Set(
      [...runbook.matchAll(/^### (\w+)/gm)].map((m) => (m[1] ?? '').toLowerCase()),
    );
    const rules = alertRules();
    expect(rules.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const r of rules) {
      const name = r.alert ?? r.record ?? '(unnamed)';
      for (const e of promqlErrors(r.expr)) problems.push(`${name}: PromQL ${e}`);
      if (r.for !== undefined && !/^(\d+(ms|s|m|h|d|w|y))+$/.test(r.for))
        problems.push(`${name}: 'for: ${r.for}' is not a Prometheus duration`);
      if (!r.labels?.severity) problems.push(`${name}: no severity label`);
      if (!r.annotations?.summary) problems.push(`${name}: no summary`);
      const anchor = /^docs\/operations\.md#(\w+)$/.exec(r.annotations?.runbook ?? '')?.[1];
      if (!anchor || !sections.has(anchor))
        problems.push(
          `${name}: runbook '${r.annotations?.runbook}' names no section of docs/operations.md`,
        );
    }
    expect(problems).toEqual([]);
    // The parser does find mistakes: a rule with one is refused.
    expect(promqlErrors('sum by (job (up)')).not.toEqual([]);
  });

  it('Prometheus loads the rule files it names, and every dashboard query parses as PromQL', () => {
    const prom = parse(read('prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: { job_name: string }[];
    };
    for (const f of prom.rule_files) expect(existsSync(join(infra, 'prometheus', f)), f).toBe(true);
    expect(prom.scrape_configs.map((s) => s.job_name).sort()).toEqual([
      'case-intake',
      'reporting',
      'supervision-scoring',
    ]);

    const problems: string[] = [];
    for (const f of readdirSync(join(infra, 'grafana/dashboards')).filter((x) =>
      x.endsWith('.json'),
    )) {
      const d = JSON.parse(read(`grafana/dashboards/${f}`)) as {
        uid?: string;
        panels: { title: string; targets?: { expr: string }[] }[];
      };
      if (!d.uid) problems.push(`${f}: no uid (Grafana would make a new dashboard at each start)`);
      for (const p of d.panels)
        for (const t of p.targets ?? [])
          for (const e of promqlErrors(t.expr.replace(/\$__(rate_)?interval|\$__range/g, '5m')))
            problems.push(`${f} / ${p.title}: PromQL ${e}`);
    }
    expect(problems).toEqual([]);
  });

  it("the collector's pipelines use only receivers, processors and exporters it defines", () => {
    const c = parse(read('otel/collector.yaml')) as {
      receivers: Record<string, unknown>;
      processors: Record<string, unknown>;
      exporters: Record<string, unknown>;
      service: {
        pipelines: Record<
          string,
          { receivers: string[]; processors?: string[]; exporters: string[] }
        >;
      };
    };
    const undefinedParts: string[] = [];
    for (const [name, p] of Object.entries(c.service.pipelines)) {
      for (const r of p.receivers)
        if (!(r in c.receivers)) undefinedParts.push(`${name}: receiver ${r}`);
      for (const r of p.processors ?? [])
        if (!(r in c.processors)) undefinedParts.push(`${name}: processor ${r}`);
      for (const r of p.exporters)
        if (!(r in c.exporters)) undefinedParts.push(`${name}: exporter ${r}`);
    }
    expect(undefinedParts).toEqual([]);
    expect(Object.keys(c.service.pipelines).sort()).toEqual(['logs', 'metrics', 'traces']);
  });
});
