// Prints the WebGPU adapter the `webgpu` package finds; exits 1 when there is none.
import { createRequire } from 'node:module';
const require = createRequire(new URL('../packages/tensor/package.json', import.meta.url));
const { create, globals } = require('webgpu');
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) { console.log('no WebGPU adapter'); process.exit(1); }
const info = adapter.info ?? {};
console.log(JSON.stringify({ vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: info.isFallbackAdapter }));
const device = await adapter.requestDevice();
console.log(JSON.stringify({ maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension, maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage, maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize }));
device.destroy();
process.exit(0);
