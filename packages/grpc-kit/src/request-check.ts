import { createFileRegistry, fromBinary, ScalarType, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { contractsDescriptorSet } from '@enforcement/contracts/descriptor';

const INT64 = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
/** The range of google.protobuf.Timestamp: 0001-01-01 to 9999-12-31. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

let registry: ReturnType<typeof createFileRegistry> | undefined;
const contracts = () =>
  (registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, contractsDescriptorSet())));

/** The request type of a method path (`/pkg.Service/Method`), when it is one of our contracts. */
export function requestTypeOf(path: string): DescMessage | undefined {
  const [, service, method] = path.split('/');
  return contracts()
    .getService(service ?? '')
    ?.methods.find((m) => m.name === method)?.input;
}

type Problem = string | undefined;

function scalar(type: ScalarType, v: unknown, at: string): Problem {
  if (INT64.has(type) && typeof v === 'bigint' && (v > MAX_SAFE || v < -MAX_SAFE))
    return `${at}: ${v} is beyond ±2^53, the largest integer every client can hold exactly`;
  return undefined;
}

function message(desc: DescMessage, m: Record<string, unknown>, at: string): Problem {
  if (desc.typeName === 'google.protobuf.Timestamp') {
    const seconds = m.seconds as bigint;
    const nanos = m.nanos as number;
    if (nanos < 0 || nanos > 999_999_999)
      return `${at}: nanos ${nanos} is not a valid Timestamp (0 to 999,999,999)`;
    if (seconds < MIN_SECONDS || seconds > MAX_SECONDS)
      return `${at}: seconds ${seconds} is outside the Timestamp range (years 1 to 9999)`;
    return undefined;
  }
  for (const f of desc.fields) {
    let v: unknown;
    if (f.oneof) {
      const o = m[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (o?.case !== f.localName) continue;
      v = o.value;
    } else v = m[f.localName];
    const here = at ? `${at}.${f.name}` : f.name;
    let p: Problem;
    switch (f.fieldKind) {
      case 'scalar':
        p = scalar(f.scalar, v, here);
        break;
      case 'message':
        if (v) p = message(f.message, v as Record<string, unknown>, here);
        break;
      case 'list':
        for (const [i, item] of (v as unknown[]).entries()) {
          const ai = `${here}[${i}]`;
          if (f.listKind === 'scalar') p = scalar(f.scalar, item, ai);
          else if (f.listKind === 'message')
            p = message(f.message, item as Record<string, unknown>, ai);
          if (p) break;
        }
        break;
      case 'map':
        for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
          const ak = `${here}[${k}]`;
          if (f.mapKind === 'scalar') p = scalar(f.scalar, item, ak);
          else if (f.mapKind === 'message')
            p = message(f.message, item as Record<string, unknown>, ak);
          if (p) break;
        }
        break;
      case 'enum':
        break;
    }
    if (p) return p;
  }
  return undefined;
}

/**
 * Why a request's bytes cannot be taken as the given type, naming the field:
 * not protobuf, invalid UTF-8, an integer JavaScript cannot hold exactly, a
 * Timestamp outside its definition. Undefined when they can.
 */
export function requestProblem(desc: DescMessage, bytes: Uint8Array): Problem {
  let decoded: Record<string, unknown>;
  try {
    decoded = fromBinary(desc, bytes) as unknown as Record<string, unknown>;
  } catch (e) {
    return `not a valid ${desc.typeName}: ${(e as Error).message}`;
  }
  return message(desc, decoded, '');
}
