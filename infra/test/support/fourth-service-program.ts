// infra/index.ts's steps with the fourth catalog and the fixture repository: the stack config
// validated for that catalog, the model built from it, its images, then the target's renderer.
import { loadStackConfig } from '../../config.ts'
import { deployDocker } from '../../docker/index.ts'
import { ServiceImages } from '../../images.ts'
import { deployKubernetes } from '../../kubernetes/index.ts'
import { appServices } from '../../model.ts'
import { FOURTH_CATALOG, fixtureRoot } from './fourth-service.ts'

export const config = loadStackConfig(FOURTH_CATALOG)
export const services = appServices(
  {
    replicas: Object.fromEntries(Object.entries(config.services).map(([name, service]) => [name, service.replicas])),
    logLevel: config.logLevel,
    apiDocs: config.apiDocs,
  },
  FOURTH_CATALOG,
)
export const images = new ServiceImages('images', {
  repoRoot: fixtureRoot,
  services: services.map((service) => ({ name: service.name, port: service.port })),
  nodeImage: config.images.node,
  ...(config.registry === undefined ? {} : { registry: config.registry }),
})
const render = config.target === 'docker' ? deployDocker : deployKubernetes
export const platform = render({ config, services, images: images.imageNames })
