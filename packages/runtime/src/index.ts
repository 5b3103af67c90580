export { BaseConfig, RedisConfig, MongoConfig, JwtConfig, PublicUrlConfig, publicBase, loadConfig } from './config.js'
export { createLogger, loggerOptions } from './logger.js'
export type { Logger } from './logger.js'
export { toChatError } from './errors.js'
export { createMetricsRegistry, Registry, Histogram, Counter, Gauge } from './metrics.js'
export {
  connectNats, createCommandClient, serveCommands, publishJson, encodeJson, ERROR_CODE_HEADER, DEADLINE_HEADER,
} from './nats.js'
export type { CommandClient, CommandContext, CommandHandler, CommandHandlers, CommandServer, NatsConnection, Msg, Subscription } from './nats.js'
export { connectMongo, pingMongo, isDuplicateKeyError } from './mongo.js'
export type { Db } from './mongo.js'
export { createRedis, redisReady, Redis } from './redis.js'
export { createIdGenerator, composeId, idTime, IdSequence, ID_EPOCH_MS, MAX_WORKERS } from './ids.js'
export type { IdGenerator } from './ids.js'
export { opsRoutes, startOpsServer } from './ops.js'
export type { OpsOptions, ReadinessCheck } from './ops.js'
export {
  signToken, createTokenVerifier, generateSigningKey, importSigningKey, publicJwkOf, KeySet, TOKEN_ALGORITHM,
} from './tokens.js'
export type { SigningKey, TokenClaims, TokenKeyResolver, TokenSettings, VerifyKey } from './tokens.js'
export { startService, serviceConfig } from './service.js'
export type { ServiceDeps, ServiceParts, RunningService, ServiceSettings } from './service.js'
export { fitToBudget, jsonBytes, replyBudgetBytes } from './budget.js'
export { LuaScript } from './lua.js'
