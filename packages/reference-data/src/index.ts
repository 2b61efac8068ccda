export * from './benchmarks.js';
export * from './city.js';
