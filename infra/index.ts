// The Pulumi program. Reads and validates the stack config (nothing is created when it is
// wrong), describes the app services once, builds their images, then hands everything to the
// renderer of the stack's target: Docker for dev, Kubernetes for prod.
//
// Pulumi runs this file directly: Pulumi.yaml has `typescript: false`, infra/package.json is
// `"type": "module"` with `"main": "index.ts"`, and Node 24 strips the types on import.
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadStackConfig } from './config.ts'
import { deployDocker } from './docker/index.ts'
import { ServiceImages } from './images.ts'
import { deployKubernetes } from './kubernetes/index.ts'
import { appServices } from './model.ts'
import type { Renderer } from './platform.ts'

const config = loadStackConfig()

// One service per catalog entry (catalog/services.json), with the replicas the stack asks for.
const services = appServices({
  replicas: Object.fromEntries(Object.entries(config.services).map(([name, service]) => [name, service.replicas])),
  logLevel: config.logLevel,
  apiDocs: config.apiDocs,
})

const images = new ServiceImages('images', {
  repoRoot: resolve(fileURLToPath(new URL('..', import.meta.url))),
  services: services.map((service) => ({ name: service.name, port: service.port })),
  nodeImage: config.images.node,
  ...(config.registry === undefined ? {} : { registry: config.registry }),
})

const renderers: Record<typeof config.target, Renderer> = { docker: deployDocker, kubernetes: deployKubernetes }
const platform = renderers[config.target]({ config, services, images: images.imageNames })

export const target = config.target
export const imageNames = images.imageNames
export const gatewayUrl = platform.gatewayUrl
export const traefikDashboardUrl = platform.traefikDashboardUrl
export const consulUiUrl = platform.consulUiUrl
export const grafanaUrl = platform.grafanaUrl
export const grafanaDashboardUrls = platform.grafanaDashboardUrls
export const kibanaUrl = platform.kibanaUrl
export const jaegerUrl = platform.jaegerUrl
export const prometheusUrl = platform.prometheusUrl
export const access = platform.access
export const credentials = platform.credentials
