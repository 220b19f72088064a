export { redactSecrets, silentLogger, type Logger } from './logger.ts';
