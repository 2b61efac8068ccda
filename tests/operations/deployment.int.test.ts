import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { LIVENESS, serviceNameOf } from '@enforcement/grpc-kit';
import { repoRoot } from '@enforcement/testing';

/**
 * The images and the Helm chart, validated as far as a machine without a
 * Docker engine or a cluster can: hadolint on every Dockerfile, `helm lint`
 * and `helm template`, the rendered manifests against the Kubernetes schemas
 * (kubernetes-validate ships them) and KEDA's ScaledObject against KEDA's own
 * CRD (from the Go module proxy), and what the platform relies on, read off
 * the rendered objects. The tools come from the registries (scripts/tools.sh).
 */
const root = repoRoot();
const chart = join(root, 'infra/helm/enforcement');
const SERVICES = [
  { name: 'case-intake', port: 50051, grpc: serviceNameOf(intake.CaseIntakeServiceService) },
  { name: 'supervision-scoring', port: 50052, grpc: serviceNameOf(scoring.ScoringServiceService) },
  { name: 'reporting', port: 50053, grpc: serviceNameOf(reporting.ReportingServiceService) },
] as const;
/** The console switched on, with its provider, as a deployment sets it. */
const CONSOLE = [
  'console.enabled=true',
  'console.publicUrl=https://console.example.gov.cn',
  'console.oidc.issuer=https://idp.example.gov.cn/realms/enforcement',
  'console.oidc.clientId=enforcement-console',
  'secrets.consoleOidcClientSecret=s3cret',
  'console.ingress.host=console.example.gov.cn',
  'console.ingress.tlsSecret=console-tls',
];
/** The Kubernetes release the manifests are checked against. */
const KUBE = '1.33.0';
const KEDA = 'github.com/kedacore/keda/v2@v2.21.0';

const exec = promisify(execFile);
let tools: { HELM: string; HADOLINT: string; KUBERNETES_VALIDATE: string };
let dir: string;

/** Runs a tool; resolves with its exit code and output whatever the code. */
const run = (cmd: string, args: string[]) =>
  exec(cmd, args, { maxBuffer: 32 << 20, timeout: 300_000 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      out: e.stdout + e.stderr,
    }),
  );

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}

async function render(...sets: string[]): Promise<{ file: string; objects: K8sObject[] }> {
  const args = ['template', 'release', chart, '--kube-version', KUBE];
  for (const s of sets) args.push('--set', s);
  const r = await run(tools.HELM, args);
  expect(r.code, r.out).toBe(0);
  const file = join(
    dir,
    `rendered-${sets.length > 0 ? createHash('sha1').update(sets.join('\n')).digest('hex').slice(0, 12) : 'default'}.yaml`,
  );
  writeFileSync(file, r.out);
  const objects = parseAllDocuments(r.out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => !!o);
  return { file, objects };
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

interface Container {
  name: string;
  ports: { name: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: { grpc?: { port: number; service?: string } };
  readinessProbe?: { grpc?: { port: number; service?: string } };
  livenessProbe?: { grpc?: { port: number; service?: string } };
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
const podOf = (d: K8sObject) =>
  (d.spec as { template: { spec: PodSpec; metadata: { labels: Record<string, string> } } })
    .template;

const mebibytes = (q: string) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`a memory quantity in Mi or Gi: ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

beforeAll(async () => {
  const { stdout } = await exec('bash', [join(root, 'scripts/tools.sh')], {
    timeout: 900_000,
  });
  tools = Object.fromEntries(
    [...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]),
  ) as typeof tools;
  dir = mkdtempSync(join(tmpdir(), 'enforcement-chart-'));
}, 900_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deployment: the images and the Helm chart', () => {
  it('every Dockerfile passes hadolint, builds in stages and runs unprivileged with a gRPC health probe', async () => {
    for (const { name, port } of SERVICES) {
      const file = join(root, 'apps', name, 'Dockerfile');
      const lint = await run(tools.HADOLINT, [file]);
      expect(lint.out, `hadolint ${name}`).toBe('');
      expect(lint.code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text.match(/^FROM /gm)?.length, name).toBeGreaterThanOrEqual(2);
      // The last USER is numeric and not root.
      const user = [...text.matchAll(/^USER (\S+)/gm)].at(-1)?.[1] ?? 'root';
      expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
      expect(text).toContain(`GRPC_PORT=${port}`);
      expect(text).toMatch(
        new RegExp(`HEALTHCHECK[\\s\\S]*probe\\.js", "127\\.0\\.0\\.1:${port}"`),
      );
    }
    // The console's image: the same shape, ready by its /readyz.
    const consoleFile = join(root, 'apps/console/Dockerfile');
    const consoleLint = await run(tools.HADOLINT, [consoleFile]);
    expect(consoleLint.out, 'hadolint console').toBe('');
    const consoleText = readFileSync(consoleFile, 'utf8');
    expect(consoleText.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect([...consoleText.matchAll(/^USER (\S+)/gm)].at(-1)?.[1]).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(consoleText).toMatch(/HEALTHCHECK[\s\S]*\/readyz/);
    // A planted mistake is found: hadolint is really judging.
    const bad = join(dir, 'Dockerfile.bad');
    writeFileSync(bad, 'FROM node:latest\nRUN cd /app && npm install\n');
    const found = await run(tools.HADOLINT, [bad]);
    expect(found.code).not.toBe(0);
    expect(found.out).toMatch(/DL3007/); // `latest`
  }, 120_000);

  it('the chart passes helm lint, and what it renders is valid Kubernetes, KEDA objects by their CRD', async () => {
    const lint = await run(tools.HELM, ['lint', '--strict', chart, '--kube-version', KUBE]);
    expect(lint.code, lint.out).toBe(0);

    const { file: plain } = await render();
    const { file: scaled, objects } = await render(
      'supervisionScoring.autoscaling.enabled=true',
      'reporting.autoscaling.enabled=true',
      'secrets.existingSecret=enforcement-prod',
    );
    const { file: withConsole } = await render(...CONSOLE, 'console.ingress.enabled=true');
    for (const f of [plain, scaled, withConsole]) {
      const v = await run(tools.KUBERNETES_VALIDATE, ['--strict', '-k', KUBE, '--quiet', f]);
      expect(v.code, v.out).toBe(0);
      // Only the KEDA objects lack a built-in schema; they are checked below.
      expect(
        v.out
          .split('\n')
          .filter((l) => l.trim() && !/kind ScaledObject with api version keda\.sh/.test(l)),
      ).toEqual([]);
    }

    // ScaledObjects against the openAPIV3Schema of KEDA's CRD.
    const { stdout } = await exec('go', ['mod', 'download', '-json', KEDA], {
      timeout: 300_000,
      env: { ...process.env, GOFLAGS: '-mod=mod' },
    });
    const crd = parseAllDocuments(
      readFileSync(
        join(
          (JSON.parse(stdout) as { Dir: string }).Dir,
          'config/crd/bases/keda.sh_scaledobjects.yaml',
        ),
        'utf8',
      ),
    )[0]?.toJS() as {
      spec: { versions: { name: string; schema: { openAPIV3Schema: object } }[] };
    };
    const schema = crd.spec.versions.find((v) => v.name === 'v1alpha1')?.schema.openAPIV3Schema;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema ?? {});
    const scaledObjects = byKind(objects, 'ScaledObject');
    expect(scaledObjects.map((o) => o.metadata.name).sort()).toEqual([
      'release-enforcement-reporting',
      'release-enforcement-supervision-scoring',
    ]);
    for (const o of scaledObjects)
      expect(validate(o) ? [] : validate.errors, o.metadata.name).toEqual([]);
    // ...and the schema refuses a broken one.
    expect(validate({ ...scaledObjects[0], spec: { triggers: 'kafka' } })).toBe(false);

    // A planted mistake is refused by the Kubernetes schemas.
    const { file: broken } = await render('caseIntake.port=grpc');
    const refused = await run(tools.KUBERNETES_VALIDATE, [
      '--strict',
      '-k',
      KUBE,
      '--quiet',
      broken,
    ]);
    expect(refused.code).not.toBe(0);
  }, 600_000);

  it('renders what the platform relies on: probes, limits above the heap, budgets, autoscaling within the partitions', async () => {
    const { objects } = await render(
      'supervisionScoring.autoscaling.enabled=true',
      'reporting.autoscaling.enabled=true',
    );
    const deployments = byKind(objects, 'Deployment');
    const services = byKind(objects, 'Service');
    const budgets = byKind(objects, 'PodDisruptionBudget');
    expect(deployments).toHaveLength(3);
    for (const { name, port, grpc } of SERVICES) {
      const d = deployments.find((x) => x.metadata.name === `release-enforcement-${name}`);
      expect(d, name).toBeDefined();
      const pod = podOf(d as K8sObject);
      const c = pod.spec.containers[0] as Container;
      // Ready, live and started by grpc.health.v1 on its own port.
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe])
        expect(probe?.grpc?.port, name).toBe(port);
      // Ready while its gRPC service answers (a stuck consumer partition does
      // not take it out of the Service); started by the whole server; live
      // unless a restart mends something (Kafka away restarts no pod).
      expect(c.readinessProbe?.grpc?.service, name).toBe(grpc);
      expect(c.startupProbe?.grpc?.service, name).toBeUndefined();
      expect(c.livenessProbe?.grpc?.service, name).toBe(LIVENESS);
      expect(c.ports.find((p) => p.name === 'grpc')?.containerPort).toBe(port);
      // Requests and a memory limit, and the image's heap limit inside it.
      expect(c.resources.requests?.cpu).toBeDefined();
      const limit = mebibytes(c.resources.limits?.memory ?? '0Mi');
      const heap = Number(
        /max-old-space-size=(\d+)/.exec(
          readFileSync(join(root, 'apps', name, 'Dockerfile'), 'utf8'),
        )?.[1],
      );
      expect(heap, name).toBeGreaterThan(0);
      expect(limit, name).toBeGreaterThanOrEqual(heap + 128);
      expect(pod.spec.securityContext?.runAsNonRoot).toBe(true);
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      // The Service and the budget select exactly this deployment's pods.
      const labels = pod.metadata.labels;
      const svc = services.find((s) => s.metadata.name === d?.metadata.name);
      const selects = (sel: Record<string, string> | undefined) =>
        Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v) &&
        Object.keys(sel ?? {}).length > 0;
      expect(selects((svc?.spec as { selector: Record<string, string> }).selector)).toBe(true);
      const pdb = budgets.find((b) => b.metadata.name === d?.metadata.name);
      expect(
        selects(
          (pdb?.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
        ),
      ).toBe(true);
      // Other services' selectors do not pick these pods.
      for (const other of services.filter((s) => s !== svc))
        expect(selects((other.spec as { selector: Record<string, string> }).selector)).toBe(false);
    }
    // Scoring calls intake through intake's Service.
    const scoringPod = podOf(
      deployments.find((d) => d.metadata.name.endsWith('supervision-scoring')) as K8sObject,
    );
    expect(
      scoringPod.spec.containers[0]?.env?.find((e) => e.name === 'INTAKE_ADDRESS')?.value,
    ).toBe('release-enforcement-case-intake:50051');
    // Intake scales on CPU; the consumers on lag, never past the partitions.
    const [hpa] = byKind(objects, 'HorizontalPodAutoscaler');
    expect(hpa?.spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'release-enforcement-case-intake' },
      metrics: [{ type: 'Resource', resource: { name: 'cpu' } }],
    });
    const config = byKind(objects, 'ConfigMap')[0] as unknown as { data: Record<string, string> };
    const partitions = Number(config.data.CASE_EVENTS_PARTITIONS);
    for (const so of byKind(objects, 'ScaledObject')) {
      const spec = so.spec as {
        maxReplicaCount: number;
        triggers: { type: string; metadata: Record<string, string> }[];
      };
      expect(spec.maxReplicaCount).toBeLessThanOrEqual(partitions);
      expect(spec.triggers[0]?.type).toBe('kafka');
      expect(spec.triggers[0]?.metadata.topic).toBe('enforcement.case-events.v1');
    }
    // An autoscaled deployment leaves its replica count to the autoscaler.
    for (const d of deployments) expect((d.spec as { replicas?: number }).replicas).toBeUndefined();
  }, 300_000);

  it('renders the console only when asked, with its provider, probes on /healthz and /readyz, and the services by their Services', async () => {
    const off = await render();
    expect(byKind(off.objects, 'Deployment').map((d) => d.metadata.name)).not.toContain(
      'release-enforcement-console',
    );
    // Switched on without its provider, the chart says what is missing.
    const template = (...sets: string[]) =>
      run(tools.HELM, [
        'template',
        'release',
        chart,
        '--kube-version',
        KUBE,
        ...sets.flatMap((x) => ['--set', x]),
      ]);
    const noSecret = await template('console.enabled=true');
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.out).toMatch(/secrets\.consoleOidcClientSecret .*is required with the console/);
    const noUrl = await template('console.enabled=true', 'secrets.consoleOidcClientSecret=s3cret');
    expect(noUrl.code).not.toBe(0);
    expect(noUrl.out).toMatch(/console\.publicUrl is required/);

    const { objects } = await render(...CONSOLE, 'console.ingress.enabled=true');
    const d = byKind(objects, 'Deployment').find(
      (x) => x.metadata.name === 'release-enforcement-console',
    );
    expect(d).toBeDefined();
    const pod = podOf(d as K8sObject);
    const c = pod.spec.containers[0] as unknown as Omit<Container, 'env'> & {
      readinessProbe?: { httpGet?: { path: string } };
      livenessProbe?: { httpGet?: { path: string } };
      env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }[];
    };
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    const env = Object.fromEntries(
      c.env.map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef?.key]),
    );
    expect(env).toMatchObject({
      INTAKE_ADDRESS: 'release-enforcement-case-intake:50051',
      SCORING_ADDRESS: 'release-enforcement-supervision-scoring:50052',
      REPORTING_ADDRESS: 'release-enforcement-reporting:50053',
      CONSOLE_SIGN_IN: 'oidc',
      CONSOLE_PUBLIC_URL: 'https://console.example.gov.cn',
      OIDC_ISSUER: 'https://idp.example.gov.cn/realms/enforcement',
      OIDC_CLIENT_SECRET: 'OIDC_CLIENT_SECRET',
    });
    const heap = Number(
      /max-old-space-size=(\d+)/.exec(
        readFileSync(join(root, 'apps/console/Dockerfile'), 'utf8'),
      )?.[1],
    );
    expect(mebibytes(c.resources.limits?.memory ?? '0Mi')).toBeGreaterThanOrEqual(heap + 128);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    const secret = byKind(objects, 'Secret')[0] as unknown as {
      stringData: Record<string, string>;
    };
    expect(secret.stringData.OIDC_CLIENT_SECRET).toBe('s3cret');
    const [ingress] = byKind(objects, 'Ingress');
    expect(ingress?.spec).toMatchObject({
      tls: [{ hosts: ['console.example.gov.cn'], secretName: 'console-tls' }],
      rules: [{ host: 'console.example.gov.cn' }],
    });
  }, 300_000);
});
