export * from './benchmarks.js';
export * from './city.js';
export * from './score-reasons.js';
