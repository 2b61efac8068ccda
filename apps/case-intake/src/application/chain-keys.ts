/**
 * The keys that make a case's hash chain tamper-evident against whoever can
 * write the database: they live in intake's configuration, never in the
 * store. Each event names the key that hashed it, so keys can rotate: new
 * events take the current key, older ones verify with theirs for as long as
 * it stays configured.
 */
export interface ChainKeys {
  /** Key id that hashes new events. */
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
  /** Whether plain SHA-256 events (recorded before chains were keyed) still verify. */
  readonly acceptUnkeyed: boolean;
}

/** The development key: published, like the development token secret. */
export const DEV_CHAIN_KEYS = 'dev:ZGV2ZWxvcG1lbnQtY2hhaW4ta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg==';

/**
 * Parses `CHAIN_KEYS` (`id:base64,id:base64`) and `CHAIN_KEY_ID`. Production
 * must set its own keys; every key has at least 32 bytes.
 */
export function chainKeysFrom(s: {
  ENFORCEMENT_ENV: 'development' | 'production';
  CHAIN_KEYS: string;
  CHAIN_KEY_ID: string;
  CHAIN_ACCEPT_UNKEYED: boolean;
}): ChainKeys {
  const problems: string[] = [];
  let spec = s.CHAIN_KEYS;
  if (spec === '-') {
    if (s.ENFORCEMENT_ENV === 'production')
      problems.push('production needs CHAIN_KEYS (id:base64 of at least 32 random bytes)');
    spec = DEV_CHAIN_KEYS;
  } else if (spec === DEV_CHAIN_KEYS && s.ENFORCEMENT_ENV === 'production') {
    problems.push('CHAIN_KEYS is the published development key');
  }
  const keys = new Map<string, Buffer>();
  for (const entry of spec
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const at = entry.indexOf(':');
    const id = entry.slice(0, at);
    const key = Buffer.from(entry.slice(at + 1), 'base64');
    if (at <= 0 || !/^[\w.-]{1,32}$/.test(id)) problems.push(`CHAIN_KEYS: '${id}' is not a key id`);
    else if (key.length < 32)
      problems.push(`CHAIN_KEYS: key ${id} has ${key.length} bytes, needs 32`);
    else keys.set(id, key);
  }
  const current = s.CHAIN_KEY_ID === '-' ? [...keys.keys()].at(-1) : s.CHAIN_KEY_ID;
  if (current === undefined || !keys.has(current))
    problems.push(`CHAIN_KEY_ID ${current ?? '(none)'} is not among CHAIN_KEYS`);
  if (problems.length > 0 || current === undefined)
    throw new Error(`invalid chain keys:\n  - ${problems.join('\n  - ')}`);
  return { current, keys, acceptUnkeyed: s.CHAIN_ACCEPT_UNKEYED };
}
