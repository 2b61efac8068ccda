import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from '@grpc/proto-loader';
import { descriptorSetBase64 } from './gen/descriptor-set.js';

/** The FileDescriptorSet of every file under proto/ (and the well-known types they import). */
export function contractsDescriptorSet(): Uint8Array {
  return Buffer.from(descriptorSetBase64, 'base64');
}

/** Every service and message under proto/, as a proto-loader definition. */
export function contractsPackageDefinition(): PackageDefinition {
  return loadFileDescriptorSetFromBuffer(Buffer.from(descriptorSetBase64, 'base64'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}
