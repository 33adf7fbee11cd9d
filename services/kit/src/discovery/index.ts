export { ConsulClient, instanceId } from './consul.ts'
export type { ConsulLogger, ConsulOptions, ConsulResolverOptions, KeepRegisteredOptions, KeptRegistration, Registration } from './consul.ts'
export { instanceOrigin, staticResolver } from './resolver.ts'
export type { Resolver, ServiceInstance } from './resolver.ts'
