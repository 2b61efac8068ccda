import {
  credentials,
  loadPackageDefinition,
  type ChannelCredentials,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type CheckFn = (
  req: { service: string },
  options: { deadline: number },
  cb: (err: Error | null, res: { status: string }) => void,
) => void;

/** grpc.health.v1 Check, as a load balancer or Kubernetes probe asks it: 'SERVING', 'NOT_SERVING', ... */
export async function checkHealth(
  address: string,
  service = '',
  timeoutMs = 3_000,
  creds: ChannelCredentials = credentials.createInsecure(),
): Promise<string> {
  const def = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: ServiceClientConstructor } } };
  };
  const client = new def.grpc.health.v1.Health(address, creds);
  try {
    return await new Promise<string>((resolve, reject) =>
      (client.Check as CheckFn).call(
        client,
        { service },
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err ? reject(err) : resolve(res.status)),
      ),
    );
  } finally {
    client.close();
  }
}
