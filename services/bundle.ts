// Bundles a service for its image: its TypeScript sources, the kit's and their dependencies as a
// few ES modules under <service>/dist, which is what the image runs (services/Dockerfile).
//
//   node services/bundle.ts services/gateway [services/user-service …]
//
// Node resolves, reads and links every module of a start's import graph one by one: ~1,400 files
// for the gateway (TypeBox alone ~680), more than a third of its CPU on the way to ready. A bundle
// is a handful of files. The tests, the dev runner and `npm start` run the sources; the bench and
// the images run this.
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * Each service's entry points: `server.ts` starts it; `app.ts` and `config.ts` are what the
 * image imports, without starting anything, to fill V8's compile cache with every chunk.
 */
export const ENTRY_POINTS = ['server', 'app', 'config'] as const

/**
 * Left to Node's resolver at run time, from the image's node_modules:
 * - PGlite and Swagger UI read files that sit next to their code (WASM, data, static assets);
 * - OpenTelemetry is loaded as CommonJS on demand (the kit's `openTelemetry()`, by name) and
 *   required by prom-client: bundling the static imports too would make a second copy of the API.
 */
export const EXTERNAL = ['@electric-sql/pglite', '@fastify/swagger-ui', '@opentelemetry/*']

/** Writes `<serviceDir>/dist/{server,app,config}.js` and their shared chunks; returns the files written. */
export async function bundleService(serviceDir: string): Promise<string[]> {
  const dir = resolve(serviceDir)
  const missing = ENTRY_POINTS.filter((name) => !existsSync(join(dir, 'src', `${name}.ts`)))
  if (missing.length > 0) throw new Error(`${dir} is not a service folder: no src/${missing.join('.ts, src/')}.ts`)
  const outdir = join(dir, 'dist')
  await rm(outdir, { recursive: true, force: true })
  const result = await build({
    absWorkingDir: dir,
    entryPoints: ENTRY_POINTS.map((name) => `src/${name}.ts`),
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    external: EXTERNAL,
    // CommonJS dependencies call require() for Node's built-ins; an ES module has none of its own.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    // Names kept, not minified: stack traces in the logs stay readable.
    minify: false,
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  })
  return Object.keys(result.metafile.outputs).map((file) => resolve(dir, file))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dirs = process.argv.slice(2)
  if (dirs.length === 0) {
    process.stderr.write('usage: node services/bundle.ts <service folder>...\n')
    process.exit(2)
  }
  for (const dir of dirs) {
    try {
      const files = await bundleService(dir)
      process.stdout.write(`${dir}: ${files.filter((file) => file.endsWith('.js')).length} modules in dist/\n`)
    } catch (error) {
      process.stderr.write(`bundling ${dir} failed: ${(error as Error).message}\n`)
      process.exit(1)
    }
  }
}
