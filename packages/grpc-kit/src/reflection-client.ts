import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { credentials, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

interface ListServicesReply {
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_message: string };
}

/**
 * Lists the services a server exposes through grpc.reflection.v1, as a
 * standard reflection client (grpcurl `list`) sees them.
 */
export async function listServicesByReflection(
  address: string,
  timeoutMs = 5_000,
): Promise<string[]> {
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
    return await new Promise<string[]>((resolve, reject) => {
      const call = open.call(client, { deadline: Date.now() + timeoutMs });
      call.on('data', (reply: ListServicesReply) => {
        if (reply.error_response) reject(new Error(reply.error_response.error_message));
        else resolve((reply.list_services_response?.service ?? []).map((s) => s.name).sort());
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
  } finally {
    client.close();
  }
}
