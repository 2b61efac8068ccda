export { createConsole, type ConsoleApp } from './app.js';
export { consoleSpec, loadConsoleConfig, type ConsoleConfig } from './config.js';
export { serveConsole, type RunningConsole } from './serve.js';
