import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

/** A process serving a service whose drain takes `stopMs` (or never ends), sent SIGTERM. */
function runService(stopMs: number | 'never', graceMs: number) {
  const script = `
    import { serveUntilSignalled } from ${JSON.stringify(dist)};
    serveUntilSignalled('test', {
      address: '127.0.0.1:0',
      stop: () => new Promise((r) => ${stopMs === 'never' ? 'void r' : `setTimeout(r, ${stopMs})`}),
    });
    setInterval(() => {}, 1000);
    console.log('ready');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, SHUTDOWN_GRACE_MS: String(graceMs), OTEL_SDK_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // Signals go only once the handlers are in place: after the script's own 'ready' line.
  const ready = new Promise<void>((r) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/^ready$/m.test(out)) r();
    });
  });
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
    let t0 = 0;
    child.once('spawn', () => (t0 = Date.now()));
    child.once('exit', (code) => resolve({ code, ms: Date.now() - t0 }));
  });
  return { child, ready, exited };
}

describe('a bounded graceful shutdown', () => {
  it('exits 0 once the drain finishes', async () => {
    const s = runService(100, 5_000);
    await s.ready;
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  });

  it('exits 1 when the drain outlasts SHUTDOWN_GRACE_MS, instead of hanging', async () => {
    const s = runService('never', 300);
    await s.ready;
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(1);
  });

  it('exits at once on a second signal', async () => {
    const s = runService('never', 60_000);
    await s.ready;
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(1);
  });
});
