import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError } from '../config.ts'
import { ConsulClient, staticResolver, type Resolver } from '../discovery/index.ts'
import { Upstream, upstreamMetrics, type UpstreamObserver } from '../upstream/index.ts'

export interface Discovery {
  /** The Consul agent client, when `CONSUL_HTTP_ADDR` is configured. */
  readonly consul: ConsulClient | undefined
  /** The Consul tags `runService` registers this instance with. */
  readonly tags: readonly string[]
  /** Healthy instances of `service`: from Consul, or from its static URL list. */
  resolver(service: string): Resolver
  /** A load-balancing client for `service`, shared by every caller in this process. */
  upstream(service: string): Upstream
}

declare module 'fastify' {
  interface FastifyInstance {
    discovery: Discovery
  }
}

export interface StaticList {
  /** Comma separated URLs, as read from the environment. */
  readonly urls: readonly string[]
  /** The variable they came from, named in the error when the list is needed but empty. */
  readonly variable: string
}

export interface DiscoveryOptions {
  readonly consul?: { readonly address: string; readonly token?: string }
  /** Tags to register this instance with (see `Discovery.tags`). */
  readonly tags?: readonly string[]
  /** Per service, the instances to use when Consul is not configured. */
  readonly staticLists?: Readonly<Record<string, StaticList>>
  /** The resolvers' panic threshold in percent (see `ConsulResolverOptions`). */
  readonly panicThresholdPercent?: number
  readonly upstream?: {
    readonly tryTimeoutMs?: number
    readonly maxTries?: number
    readonly ejectAfterFailures?: number
    readonly ejectionMs?: number
  }
}

async function discoveryPlugin(app: FastifyInstance, options: DiscoveryOptions) {
  const consul = options.consul ? new ConsulClient({ ...options.consul, logger: app.log }) : undefined
  const resolvers = new Map<string, Resolver>()
  const upstreams = new Map<string, Upstream>()
  let observer: UpstreamObserver | undefined

  const resolver = (service: string): Resolver => {
    let found = resolvers.get(service)
    if (found === undefined) {
      if (consul) {
        found = consul.resolver(
          service,
          options.panicThresholdPercent === undefined ? {} : { panicThresholdPercent: options.panicThresholdPercent },
        )
      } else {
        const list = options.staticLists?.[service]
        if (list === undefined || list.urls.length === 0) {
          throw new ConfigError(
            `no instances configured for ${service}: set CONSUL_HTTP_ADDR or ${list?.variable ?? 'its static URL list'}`,
          )
        }
        found = staticResolver(list.urls)
      }
      resolvers.set(service, found)
    }
    return found
  }

  app.decorate('discovery', {
    consul,
    tags: options.tags ?? [],
    resolver,
    upstream(service: string) {
      let found = upstreams.get(service)
      if (found === undefined) {
        observer ??= upstreamMetrics(app.metrics)
        // The tracing plugin, when registered, was loaded before any route asks for an upstream.
        const tracer = app.hasDecorator('tryTracer') ? app.tryTracer : undefined
        found = new Upstream({
          ...options.upstream,
          service,
          resolver: resolver(service),
          observer,
          ...(tracer === undefined ? {} : { tracer }),
        })
        upstreams.set(service, found)
      }
      return found
    },
  })

  app.addHook('onClose', async () => {
    await Promise.all([...upstreams.values()].map((upstream) => upstream.close()))
    await Promise.all([...resolvers.values()].map((found) => found.close()))
    await consul?.close()
  })
}

export default fp(discoveryPlugin, { name: 'platform-discovery', fastify: '5.x', dependencies: ['platform-metrics'] })
