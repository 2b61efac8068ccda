import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { credentials, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

interface ReflectionReply {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_message: string };
}

/** One request over grpc.reflection.v1, as a standard client (grpcurl) sends it. */
async function reflect(
  address: string,
  request: Record<string, string>,
  timeoutMs: number,
): Promise<ReflectionReply> {
  const require = createRequire(import.meta.url);
  const reflectionRoot = join(
    dirname(require.resolve('@grpc/reflection/package.json')),
    'build',
    'proto',
  );
  const def = loadSync(join(reflectionRoot, 'grpc/reflection/v1/reflection.proto'), {
    keepCase: true,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(def) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  const open = client.ServerReflectionInfo;
  if (!open) throw new Error('reflection proto has no ServerReflectionInfo method');
  try {
    return await new Promise<ReflectionReply>((resolve, reject) => {
      const call = open.call(client, { deadline: Date.now() + timeoutMs });
      call.on('data', (reply: ReflectionReply) => {
        if (reply.error_response) reject(new Error(reply.error_response.error_message));
        else resolve(reply);
        call.end();
      });
      call.on('error', reject);
      call.write(request);
    });
  } finally {
    client.close();
  }
}

/** The services a server lists through reflection (grpcurl `list`). */
export async function listServicesByReflection(
  address: string,
  timeoutMs = 5_000,
): Promise<string[]> {
  const reply = await reflect(address, { list_services: '' }, timeoutMs);
  return (reply.list_services_response?.service ?? []).map((s) => s.name).sort();
}

/** The serialized FileDescriptorProtos a server returns for a symbol, with their imports (grpcurl `describe`). */
export async function filesForSymbol(
  address: string,
  symbol: string,
  timeoutMs = 5_000,
): Promise<Buffer[]> {
  const reply = await reflect(address, { file_containing_symbol: symbol }, timeoutMs);
  return reply.file_descriptor_response?.file_descriptor_proto ?? [];
}
