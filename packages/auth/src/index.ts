export { ROLES, actsFor, hasRole, type Principal, type Role } from './principal.js';
export {
  algorithmsFor,
  createVerifier,
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
