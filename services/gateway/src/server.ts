import { main, runService } from '@platform/kit'
import { buildApp } from './app.ts'
import { readConfig } from './config.ts'
import { traefikTags } from './traefik.ts'

await main(async () => {
  const config = readConfig()
  const app = buildApp({ config })
  await runService(app, { name: 'gateway', config, tags: traefikTags(config) })
})
