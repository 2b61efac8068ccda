import { trace } from '@opentelemetry/api';
import { logs, SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const SEVERITY: Record<number, [SeverityNumber, string]> = {
  10: [SeverityNumber.TRACE, 'TRACE'],
  20: [SeverityNumber.DEBUG, 'DEBUG'],
  30: [SeverityNumber.INFO, 'INFO'],
  40: [SeverityNumber.WARN, 'WARN'],
  50: [SeverityNumber.ERROR, 'ERROR'],
  60: [SeverityNumber.FATAL, 'FATAL'],
};

/** Whether the process exports logs (OTEL_LOGS_EXPORTER, or an OTLP endpoint with no exporter named). */
export const exportsLogs = (env: NodeJS.ProcessEnv = process.env): boolean =>
  env.OTEL_LOGS_EXPORTER
    ? env.OTEL_LOGS_EXPORTER !== 'none'
    : !!(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT);

/**
 * Each log line also as an OpenTelemetry log record: severity, the message as
 * body, the line's fields as attributes (an error as the conventions'
 * exception.* attributes). It is written while the caller's context is
 * active, so the record carries the caller's trace and span.
 */
export function openTelemetryStream(scope: string): DestinationStream {
  return {
    write(line: string) {
      const o = JSON.parse(line) as Record<string, unknown>;
      const { level, msg, time, trace_id: _t, span_id: _s, err, ...rest } = o;
      const [severityNumber, severityText] = SEVERITY[Number(level)] ?? [
        SeverityNumber.INFO,
        'INFO',
      ];
      const attributes: AnyValueMap = {};
      for (const [k, v] of Object.entries(rest))
        if (v !== undefined && v !== null)
          attributes[k] =
            typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean);
      if (err && typeof err === 'object') {
        const e = err as { type?: string; message?: string; stack?: string };
        if (e.type) attributes['exception.type'] = e.type;
        if (e.message) attributes['exception.message'] = e.message;
        if (e.stack) attributes['exception.stacktrace'] = e.stack;
      }
      logs.getLogger(scope).emit({
        severityNumber,
        severityText,
        body: typeof msg === 'string' ? msg : '',
        timestamp: typeof time === 'number' ? time : Date.now(),
        attributes,
      });
    },
  };
}

/**
 * Structured JSON logs (pino) on stdout, one object per line, each carrying
 * the trace and span id active when it was written, so a log line leads to
 * its trace. LOG_LEVEL sets the level (info by default). When the process
 * exports logs (`exportsLogs`, or `toOpenTelemetry`), every line also goes to
 * the OpenTelemetry logs SDK (openTelemetryStream).
 */
export function createLogger(
  service: string,
  destination?: DestinationStream,
  toOpenTelemetry = exportsLogs(),
): Logger {
  const out = destination ?? pino.destination({ fd: 1, sync: true });
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
    toOpenTelemetry
      ? pino.multistream([{ stream: out }, { stream: openTelemetryStream(service) }])
      : out,
  );
}

/** The services' `log(msg, err?)` callback on a logger: errors with their cause, the rest as warnings. */
export const logTo =
  (logger: Logger) =>
  (msg: string, err?: unknown): void => {
    if (err === undefined || err === '') logger.warn(msg);
    else logger.error({ err }, msg);
  };
