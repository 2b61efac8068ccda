export {
  ROLES,
  actsFor,
  hasRole,
  stillValid,
  whenExpired,
  type Principal,
  type Role,
} from './principal.js';
export {
  algorithmsFor,
  CLOCK_TOLERANCE_S,
  createVerifier,
  streamTokenExpired,
  type KeySource,
  type Verifier,
  type VerifierConfig,
} from './verifier.js';
export {
  AuthConfigError,
  verifierConfigFrom,
  verifierFrom,
  type AuthSettings,
  type EnforcementEnv,
} from './settings.js';
export { DEV_AUTH, mintDevToken } from './dev.js';
