// The services as the benchmarks run them: each its own process, started
// from its built main, so that its memory is its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export type ServiceName = 'case-intake' | 'supervision-scoring' | 'reporting';

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly pid: number;
  readonly address: string;
  /** Peak resident set so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** Whether the process has not exited. */
  running(): boolean;
  stop(): Promise<void>;
  /** SIGKILL, as a crash or the OOM killer would. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    for (const child of running) child.kill('SIGTERM');
    process.exit(130);
  });

/**
 * The heap limits the service's image runs it with (its Dockerfile's
 * NODE_OPTIONS: old and new space), so that the memory measured is the
 * memory deployed.
 */
function imageHeapLimit(name: ServiceName): string[] {
  const dockerfile = readFileSync(`apps/${name}/Dockerfile`, 'utf8');
  return [...dockerfile.matchAll(/--max-(old|semi)-space-size=\d+/g)].map((m) => m[0]);
}

/** Starts `apps/<name>/dist/main.js` with `env` and waits until it serves gRPC. */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  // BENCH_NODE_FLAGS: flags for every service (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...imageHeapLimit(name), ...flags, `apps/${name}/dist/main.js`],
    {
      env: {
        ...process.env,
        GRPC_PORT: '0',
        OTEL_SDK_DISABLED: 'true',
        ENFORCEMENT_ENV: 'development',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The bench (or the chaos run) ending for any reason, a signal included,
  // takes its services with it.
  const orphaned = () => child.kill('SIGTERM');
  process.once('exit', orphaned);
  running.add(child);
  void exited.then(() => {
    process.off('exit', orphaned);
    running.delete(child);
  });
  // BENCH_LOG_DIR: each service's whole output goes to `<dir>/<name>.<pid>.log`
  // (with `--trace-gc` among BENCH_NODE_FLAGS, its heap after each collection).
  const logDir = process.env.BENCH_LOG_DIR;
  if (logDir) child.stdout.pipe(createWriteStream(`${logDir}/${name}.${child.pid ?? 0}.log`));
  const address = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before serving`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      // Errors a service logs show beside the run's own output.
      if (/"level":(50|60)/.test(line)) process.stderr.write(`[${name}] ${line}\n`);
      const m = /serving gRPC on ([\d.]+:\d+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
  });
  const pid = child.pid ?? 0;
  let peak = 0;
  const peakRssMiB = () => {
    try {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      peak = Math.max(peak, Number(kb ?? 0) / 1024);
    } catch {
      // exited: the last reading stands
    }
    return peak;
  };
  return {
    name,
    pid,
    address,
    peakRssMiB,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      peakRssMiB();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A wait's guard, called on each poll with what the wait watches: throws when
 * one of `services` has exited, or when `progress` has not changed for
 * `stallMs`. A wait on a dead or stuck service then fails, naming it, rather
 * than hanging the run.
 */
export function stallGuard(
  what: string,
  services: readonly ServiceProcess[],
  stallMs = 600_000,
): (progress: string | number) => void {
  let last: string | number | undefined;
  let since = performance.now();
  return (progress) => {
    for (const s of services)
      if (!s.running()) throw new Error(`${what}: ${s.name} (pid ${s.pid}) exited`);
    if (progress !== last) {
      last = progress;
      since = performance.now();
    } else if (performance.now() - since > stallMs)
      throw new Error(`${what}: nothing moved in ${stallMs / 1000} s (still ${progress})`);
  };
}

/** Polls `lag` every `everyMs` until it is 0, under a stallGuard on `services`. */
export async function untilNoLag(
  what: string,
  services: readonly ServiceProcess[],
  lag: () => Promise<number>,
  everyMs: number,
): Promise<void> {
  const guard = stallGuard(what, services);
  for (;;) {
    const n = await lag();
    if (n === 0) return;
    guard(n);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
