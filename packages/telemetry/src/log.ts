import { trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino) on stdout, one object per line, each carrying
 * the trace and span id active when it was written, so a log line leads to
 * its trace. LOG_LEVEL sets the level (info by default).
 */
export function createLogger(service: string, destination?: DestinationStream): Logger {
  return pino(
    {
      name: service,
      level: process.env.LOG_LEVEL ?? 'info',
      base: { service },
      mixin() {
        const span = trace.getActiveSpan()?.spanContext();
        return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
      },
    },
    destination,
  );
}

/** The services' `log(msg, err?)` callback on a logger: errors with their cause, the rest as warnings. */
export const logTo =
  (logger: Logger) =>
  (msg: string, err?: unknown): void => {
    if (err === undefined || err === '') logger.warn(msg);
    else logger.error({ err }, msg);
  };
