import { readFile } from 'node:fs/promises';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import type { ScoringConfig } from '../../config.js';

/** How often a token file is read again: identity providers and Kubernetes rotate it in place. */
const REREAD_MS = 30_000;

/**
 * The bearer token scoring presents to case-intake. A deployment gives one
 * (SCORING_INTAKE_TOKEN) or, better, a file its identity provider keeps fresh
 * (SCORING_INTAKE_TOKEN_FILE). Only in development is one minted from the
 * development secret, and then for an hour at a time.
 */
export function intakeTokenSource(config: ScoringConfig): () => Promise<string> {
  if (config.SCORING_INTAKE_TOKEN_FILE !== '-') {
    const path = config.SCORING_INTAKE_TOKEN_FILE;
    let cached: { value: string; at: number } | undefined;
    return async () => {
      if (!cached || Date.now() - cached.at > REREAD_MS)
        cached = { value: (await readFile(path, 'utf8')).trim(), at: Date.now() };
      return cached.value;
    };
  }
  if (config.SCORING_INTAKE_TOKEN !== '-') {
    const value = config.SCORING_INTAKE_TOKEN;
    return () => Promise.resolve(value);
  }
  if (config.ENFORCEMENT_ENV !== 'development')
    throw new Error(
      'production needs SCORING_INTAKE_TOKEN_FILE (or SCORING_INTAKE_TOKEN): scoring mints no tokens of its own',
    );
  const secret = config.AUTH_JWT_SECRET !== '-' ? config.AUTH_JWT_SECRET : DEV_AUTH.secret;
  let token: { value: string; until: number } | undefined;
  return async () => {
    if (!token || token.until < Date.now()) {
      const value = await mintDevToken(
        { secret, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE },
        { subject: 'supervision-scoring', roles: ['supervisor'], expiresIn: '1h' },
      );
      token = { value, until: Date.now() + 50 * 60_000 };
    }
    return token.value;
  };
}
