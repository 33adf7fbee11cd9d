import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { bundleService } from '../services/bundle.ts'

// The bundle of a real service is started and exercised in services/gateway/test/server.test.ts;
// scripts/docker/check-images.sh runs every image, which runs its bundle.
describe('bundleService', () => {
  const dirs: string[] = []
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })))

  function folder(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'bundle-'))
    dirs.push(dir)
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true })
      writeFileSync(join(dir, name), text)
    }
    return dir
  }

  it('refuses a folder that is not a service, naming the entry points it lacks', async () => {
    const dir = folder({ 'src/server.ts': 'export {}\n' })
    await expect(bundleService(dir)).rejects.toThrow(`${dir} is not a service folder: no src/app.ts, src/config.ts`)
  })

  it('writes one module per entry point and the chunks they share, leaving the externals as imports', async () => {
    const dir = folder({
      'package.json': '{"type":"module"}',
      'src/shared.ts': "export const shared: string = 'shared'\n",
      'src/app.ts': "import { shared } from './shared.ts'\nexport const app = () => shared\n",
      'src/config.ts': "import { shared } from './shared.ts'\nexport const config = shared.length\n",
      'src/server.ts': "import { app } from './app.ts'\nimport { trace } from '@opentelemetry/api'\nconsole.log(app(), trace)\n",
    })
    const files = (await bundleService(dir)).map((file) => file.slice(dir.length + 1))
    expect(files).toEqual(expect.arrayContaining(['dist/server.js', 'dist/app.js', 'dist/config.js']))
    const text = files.filter((file) => file.endsWith('.js')).map((file) => readFileSync(join(dir, file), 'utf8'))
    // Shared code lives once, in a chunk; the external stays an import resolved at run time.
    expect(text.join('\n').match(/= "shared"/g)).toHaveLength(1)
    expect(readFileSync(join(dir, 'dist/server.js'), 'utf8')).toContain('from "@opentelemetry/api"')
  })
})
