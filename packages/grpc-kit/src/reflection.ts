import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import {
  loadPackageDefinition,
  status,
  type GrpcObject,
  type Server,
  type ServiceClientConstructor,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';

const camel = (s: string) => s.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());

/**
 * protobufjs names a map field's entry type after the field, with a relative
 * type name, where protoc (and clients checking descriptors) expect a fully
 * qualified `<CamelCaseField>Entry`.
 */
function fixMapEntries(f: FileDescriptorProto): FileDescriptorProto {
  const visit = (m: DescriptorProto, scope: string) => {
    for (const field of m.field) {
      const target = field.typeName.split('.').at(-1);
      const entry = m.nestedType.find((n) => n.options?.mapEntry && n.name === target);
      if (!entry) continue;
      const expected = `${camel(field.name)}Entry`;
      entry.name = expected;
      field.typeName = `.${scope}${m.name}.${expected}`;
    }
    for (const n of m.nestedType) visit(n, `${scope}${m.name}.`);
  };
  for (const m of f.messageType) visit(m, f.package ? `${f.package}.` : '');
  return f;
}

interface Request {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type: string; extension_number: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
  message_request?: string;
}

/**
 * gRPC server reflection (v1 and v1alpha) answered from protobuf
 * FileDescriptorProtos as protoc and buf produce them. @grpc/reflection
 * rebuilds descriptors from proto-loader's definitions and loses the
 * well-known types (grpc/grpc-node#2958), so a client could list services but
 * not describe or call them; serving the original descriptors avoids that.
 */
export class DescriptorReflection {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly symbols = new Map<string, string>();

  constructor(private readonly services: () => readonly string[]) {}

  /** Adds every file of a serialized FileDescriptorSet. */
  addDescriptorSet(bytes: Uint8Array): this {
    for (const f of fromBinary(FileDescriptorSetSchema, bytes).file) this.addFile(f);
    return this;
  }

  /** Adds the files behind a proto-loader definition (for protos this repository does not own). */
  addPackageDefinition(def: PackageDefinition): this {
    for (const entry of Object.values(def)) {
      const raw = (entry as { fileDescriptorProtos?: Uint8Array[] }).fileDescriptorProtos ?? [];
      for (const b of raw) this.addFile(fixMapEntries(fromBinary(FileDescriptorProtoSchema, b)));
    }
    return this;
  }

  private addFile(f: FileDescriptorProto): void {
    if (this.files.has(f.name)) return;
    this.files.set(f.name, f);
    const prefix = f.package ? `${f.package}.` : '';
    const addMessage = (m: DescriptorProto, scope: string) => {
      const name = `${scope}${m.name}`;
      this.symbols.set(name, f.name);
      for (const e of m.enumType) this.symbols.set(`${name}.${e.name}`, f.name);
      for (const n of m.nestedType) addMessage(n, `${name}.`);
    };
    for (const m of f.messageType) addMessage(m, prefix);
    for (const e of f.enumType) this.symbols.set(`${prefix}${e.name}`, f.name);
    for (const s of f.service) {
      this.symbols.set(`${prefix}${s.name}`, f.name);
      for (const m of s.method) this.symbols.set(`${prefix}${s.name}.${m.name}`, f.name);
    }
  }

  /** The file and everything it imports, transitively, serialized. */
  private withDependencies(name: string): Buffer[] {
    const seen = new Set<string>();
    const out: Buffer[] = [];
    const visit = (n: string) => {
      const f = this.files.get(n);
      if (!f || seen.has(n)) return;
      seen.add(n);
      out.push(Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
      for (const d of f.dependency) visit(d);
    };
    visit(name);
    return out;
  }

  respond(req: Request): Record<string, unknown> {
    const base = { valid_host: req.host ?? '', original_request: req };
    const notFound = (what: string) => ({
      ...base,
      error_response: { error_code: status.NOT_FOUND, error_message: `${what} not found` },
    });
    switch (req.message_request) {
      case 'list_services':
        return {
          ...base,
          list_services_response: { service: this.services().map((name) => ({ name })) },
        };
      case 'file_by_filename': {
        const name = req.file_by_filename ?? '';
        return this.files.has(name)
          ? {
              ...base,
              file_descriptor_response: { file_descriptor_proto: this.withDependencies(name) },
            }
          : notFound(`file ${name}`);
      }
      case 'file_containing_symbol': {
        const symbol = (req.file_containing_symbol ?? '').replace(/^\./, '');
        const file = this.symbols.get(symbol);
        return file
          ? {
              ...base,
              file_descriptor_response: { file_descriptor_proto: this.withDependencies(file) },
            }
          : notFound(`symbol ${symbol}`);
      }
      case 'all_extension_numbers_of_type':
        return {
          ...base,
          all_extension_numbers_response: {
            base_type_name: req.all_extension_numbers_of_type ?? '',
            extension_number: [],
          },
        };
      default:
        return notFound('extension');
    }
  }

  addToServer(server: Pick<Server, 'addService'>): void {
    const require = createRequire(import.meta.url);
    const root = join(
      dirname(require.resolve('@grpc/reflection/package.json')),
      'build',
      'proto',
      'grpc',
      'reflection',
    );
    for (const version of ['v1', 'v1alpha']) {
      const def = loadSync(join(root, version, 'reflection.proto'), {
        keepCase: true,
        oneofs: true,
        longs: String,
      });
      const ns = loadPackageDefinition(def) as unknown as {
        grpc: { reflection: Record<string, GrpcObject> };
      };
      const svc = ns.grpc.reflection[version]?.ServerReflection as
        ServiceClientConstructor | undefined;
      if (!svc) throw new Error(`reflection ${version} proto has no ServerReflection`);
      server.addService(svc.service, {
        ServerReflectionInfo: (call: ServerDuplexStream<Request, unknown>) => {
          call.on('data', (req: Request) => call.write(this.respond(req)));
          call.on('end', () => call.end());
          call.on('error', () => undefined);
        },
      });
    }
  }
}
