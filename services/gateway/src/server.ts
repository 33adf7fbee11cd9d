import { main, runService } from '@platform/kit'
import { buildApp } from './app.ts'
import { readConfig, SERVICE_NAME } from './config.ts'

await main(async () => {
  const config = readConfig()
  const app = await buildApp({ config })
  await runService(app, { name: SERVICE_NAME, config })
})
