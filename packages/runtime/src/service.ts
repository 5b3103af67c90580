import { Type } from '@sinclair/typebox'
import { createSubjects, type Subjects } from '@chat/contracts'
import type { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import type { MongoClient } from 'mongodb'
import { BaseConfig, MongoConfig, RedisConfig, ShutdownConfig } from './config.js'
import { createLogger, type Logger } from './logger.js'
import { createMetricsRegistry } from './metrics.js'
import { connectNats, createCommandClient, natsReady, type NatsSettings, serveCommands, type CommandClient, type CommandHandlers, type CommandServer, type NatsConnection } from './nats.js'
import { connectMongo, pingMongo, type Db } from './mongo.js'
import { createRedis, redisReady, type Redis } from './redis.js'
import { cachedCheck, READINESS_CHECK_TIMEOUT_MS, startOpsServer, type ReadinessCheck } from './ops.js'

/** The settings every NATS service shares, plus its own probe port. */
export function serviceConfig (defaultHttpPort: number) {
  return {
    ...BaseConfig,
    ...RedisConfig,
    ...MongoConfig,
    ...ShutdownConfig,
    HTTP_PORT: Type.Integer({ default: defaultHttpPort, minimum: 0, maximum: 65535, description: 'Port of /healthz, /readyz and /metrics' }),
  }
}

export interface ServiceSettings extends NatsSettings {
  NATS_PREFIX: string
  NATS_REQUEST_TIMEOUT_MS: number
  LOG_LEVEL: string
  HTTP_HOST: string
  HTTP_PORT: number
  REDIS_URL: string
  REDIS_PREFIX: string
  MONGO_URL: string
  MONGO_DB: string
}

/** What a service's setup function receives: its open connections. */
export interface ServiceDeps {
  nc: NatsConnection
  db: Db
  redis: Redis
  logger: Logger
  registry: Registry
  subjects: Subjects
  /** Calls other services' commands. */
  client: CommandClient
}

/** What a service's setup function returns. */
export interface ServiceParts {
  handlers: CommandHandlers
  /** Extra readiness checks beyond NATS, MongoDB and Redis. */
  checks?: Record<string, ReadinessCheck>
  /** Stops the service's own background work; runs before connections close. */
  close?: () => Promise<void>
}

export interface RunningService {
  logger: Logger
  /** The probe server's port (useful when HTTP_PORT is 0). */
  httpPort: number
  /** Graceful stop in the fixed order; safe to call twice. */
  close(): Promise<void>
}

/**
 * Connects a NATS service to its stores, serves its commands in its queue
 * group and starts its probe server. It never installs signal handlers or
 * exits: main.ts owns that.
 */
export async function startService (opts: {
  name: string
  queue: string
  config: ServiceSettings
  setup: (deps: ServiceDeps) => Promise<ServiceParts>
  logger?: Logger
}): Promise<RunningService> {
  const { config, name } = opts
  const logger = opts.logger ?? createLogger(name, config.LOG_LEVEL)
  const registry = createMetricsRegistry(name)
  const redis = createRedis(config.REDIS_URL, config.REDIS_PREFIX)
  redis.on('error', (err) => logger.warn({ err }, 'redis error'))
  let mongo: { client: MongoClient, db: Db } | undefined
  let nc: NatsConnection | undefined
  let server: CommandServer | undefined
  let parts: ServiceParts | undefined
  let ops: FastifyInstance | undefined
  let accepting = false
  try {
    mongo = await connectMongo(config.MONGO_URL, config.MONGO_DB, name)
    nc = await connectNats(config, name, logger)
    const client = createCommandClient(nc, { prefix: config.NATS_PREFIX, timeoutMs: config.NATS_REQUEST_TIMEOUT_MS, registry })
    parts = await opts.setup({ nc, db: mongo.db, redis, logger, registry, subjects: createSubjects(config.NATS_PREFIX), client })
    server = serveCommands(nc, { prefix: config.NATS_PREFIX, queue: opts.queue, handlers: parts.handlers, logger, registry })
    await nc.flush() // subscriptions are in place on the server before we report ready
    accepting = true
    const conn = nc
    const db = mongo.db
    ops = await startOpsServer({
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      logger,
      registry,
      accepting: () => accepting,
      checks: {
        nats: () => natsReady(conn),
        mongo: cachedCheck(() => pingMongo(db, READINESS_CHECK_TIMEOUT_MS)),
        redis: () => redisReady(redis),
        ...parts.checks,
      },
    })
  } catch (err) {
    await Promise.allSettled([server?.stop(), parts?.close?.()])
    await Promise.allSettled([nc?.close(), mongo?.client.close(), redis.quit()])
    throw err
  }
  const address = ops.server.address()
  const httpPort = typeof address === 'object' && address ? address.port : config.HTTP_PORT
  logger.info({ httpPort, queue: opts.queue }, `${name} service ready`)

  let closing: Promise<void> | undefined
  const stopParts = parts
  const stopServer = server
  const conn = nc
  const mongoClient = mongo.client
  const opsServer = ops
  return {
    logger,
    httpPort,
    close () {
      closing ??= (async () => {
        accepting = false
        await stopServer.stop() // no new commands; those taken run to completion
        await stopParts.close?.()
        await conn.drain().catch((err: unknown) => logger.warn({ err }, 'nats drain failed'))
        await Promise.allSettled([mongoClient.close(), redis.quit(), opsServer.close()])
        logger.info(`${name} service stopped`)
      })()
      return closing
    },
  }
}
