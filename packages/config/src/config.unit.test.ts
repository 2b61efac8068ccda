import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  boolean,
  infraSpec,
  integer,
  list,
  loadConfig,
  oneOf,
  string,
} from './index.js';

describe('loadConfig', () => {
  it('parses typed values and applies defaults', () => {
    const cfg = loadConfig(
      {
        PORT: integer({ default: 50051 }),
        NAME: string(),
        DEBUG: boolean({ default: false }),
        TAGS: list(),
      },
      { NAME: 'intake', TAGS: 'a, b,,c', DEBUG: 'yes' },
    );
    expect(cfg).toEqual({ PORT: 50051, NAME: 'intake', DEBUG: true, TAGS: ['a', 'b', 'c'] });
  });

  it('reports every problem at once, naming each variable', () => {
    const load = () =>
      loadConfig(infraSpec, { KAFKA_BROKERS: '', MONGODB_URI: 'postgres://x', MONGODB_DB: 'db' });
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'KAFKA_BROKERS is required but not set',
        "MONGODB_URI must use mongodb or mongodb+srv, got 'postgres:'",
      ]);
    }
  });

  it('rejects values out of range or outside the allowed set', () => {
    expect(() =>
      loadConfig({ GRPC_PORT: integer({ min: 0, max: 65535 }) }, { GRPC_PORT: '70000' }),
    ).toThrow('GRPC_PORT must be at most 65535, got 70000');
    expect(() => loadConfig({ PORT: integer() }, { PORT: '12ab' })).toThrow(
      "PORT must be an integer, got '12ab'",
    );
    expect(() => loadConfig({ ROLE: oneOf(['agency', 'supervisor']) }, { ROLE: 'admin' })).toThrow(
      "ROLE must be one of agency, supervisor, got 'admin'",
    );
  });
});
