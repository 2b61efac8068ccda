import { loadConsoleConfig } from './config.js';
import { serveConsole } from './serve.js';

const config = loadConsoleConfig();
const running = await serveConsole(config);
console.log(`console: ${running.url}/`);

const stop = () => {
  void running.stop().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 3_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
