import { pino, type Logger, type LoggerOptions } from 'pino'

export type { Logger }

/** Options shared by every process's pino logger (also fastify's). */
export function loggerOptions (name: string, level: string): LoggerOptions {
  return {
    name,
    level,
    base: { service: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.password', '*.token', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
  }
}

export function createLogger (name: string, level: string): Logger {
  return pino(loggerOptions(name, level))
}
