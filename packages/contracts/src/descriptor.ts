import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from '@grpc/proto-loader';
import { descriptorSetBase64 } from './gen/descriptor-set.js';

/** Every service and message under proto/, for gRPC server reflection. */
export function contractsPackageDefinition(): PackageDefinition {
  return loadFileDescriptorSetFromBuffer(Buffer.from(descriptorSetBase64, 'base64'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}
