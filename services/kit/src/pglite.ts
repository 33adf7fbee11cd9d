import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import { createGunzip } from 'node:zlib'
import type { PGlite, PGliteOptions } from '@electric-sql/pglite'

// How the embedded engine is started. Where its time and memory went with PGlite's defaults
// (@electric-sql/pglite 0.5.17, user-service under its 256Mi V8 sizing: ~8 s to ready, ~470 MiB
// resident after load, a peak near 1 GiB): every in-memory start ran initdb (a second PostgreSQL
// instance, ~5 s of CPU blocking the event loop); shared_buffers stayed at initdb's 128MB, all of
// it touched at start; and V8 recompiled PostgreSQL's hot functions with its optimising compiler,
// one of them (~100 KB of WebAssembly) with ~600 MB of compiler memory for seconds.

/** The PGlite class, as `import('@electric-sql/pglite')` gives it. */
type PGliteClass = typeof PGlite

/** A logger for what goes wrong without failing the start (the app's logger). */
export interface PgliteLog {
  warn(object: object, message: string): void
}

/**
 * PostgreSQL settings, on its command line after PGlite's own defaults: nothing is written to a
 * data directory, so a DATA_DIR opens as before with less memory. shared_buffers is a cache of
 * pages that PGlite's file system already holds in memory (or the OS caches for a DATA_DIR):
 * 16MB instead of 128MB is ~120 MiB less resident memory and ~0.4 s less CPU at each start.
 */
export const PGLITE_SETTINGS: readonly string[] = ['-c', 'shared_buffers=16MB']

/**
 * Keeps WebAssembly on V8's baseline compiler (Liftoff) from now on, in this process. Without it
 * V8 recompiles the hot functions with TurboFan in the background: one of them alone takes
 * seconds of CPU and ~600 MB of compiler memory, enough to get a 256Mi container killed, for no
 * measurable gain in requests per second (PGlite's time goes to JavaScript). Must run before
 * PGlite's module is compiled; the flags cannot go in NODE_OPTIONS, which refuses them.
 */
export function keepWasmOnBaselineTier(): void {
  // Tier-up first: without dynamic tiering, V8 would otherwise tier every function up eagerly.
  v8.setFlagsFromString('--no-wasm-tier-up')
  v8.setFlagsFromString('--no-wasm-dynamic-tiering')
}

/**
 * The data directory that initdb makes, captured once as a tarball (`dumpDataDir`) and loaded
 * into each new in-memory database (`loadDataDir`) instead of running initdb again: ~4 s less CPU
 * per start. Trimmed for a database that lives in memory: `--wal-segsize=1` keeps its WAL in
 * 1 MiB files rather than 16 MiB ones, and the template databases go (template0 and template1,
 * 7 MiB each; the only one used is `postgres`, and nothing can connect to create another). Bump
 * RECIPE when the recipe changes.
 */
const TEMPLATE_INITDB_ARGS = ['--wal-segsize=1']
const TEMPLATE_TRIM = [
  `UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')`,
  'DROP DATABASE template0',
  'DROP DATABASE template1',
]
const RECIPE = 1

/**
 * Where the template lives: node_modules/.cache/pglite-template/, beside the PGlite it was made
 * with (the images make it at build time, services/Dockerfile), named after PGlite's version so
 * an upgrade never loads an old one.
 */
export async function pgliteTemplatePath(): Promise<string> {
  // …/node_modules/@electric-sql/pglite/dist/index.js
  const packageDir = dirname(dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))))
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string }
  return join(dirname(dirname(packageDir)), '.cache', 'pglite-template', `pgdata-${version}-r${RECIPE}.tar.gz`)
}

/**
 * Makes the template: initdb in a scratch directory, the trim, one clean shutdown (so loading it
 * needs no crash recovery), then its files as a gzipped tarball.
 */
export async function makePgliteTemplate(PGliteClass: PGliteClass): Promise<Uint8Array> {
  const scratch = await mkdtemp(join(tmpdir(), 'pglite-template-'))
  try {
    const initialised = await PGliteClass.create(scratch, { initDbStartParams: TEMPLATE_INITDB_ARGS })
    try {
      for (const statement of TEMPLATE_TRIM) await initialised.exec(statement)
    } finally {
      await initialised.close()
    }
    // noInitDb: mounts the directory without starting PostgreSQL, which would dirty it again.
    const reader = await PGliteClass.create(scratch, { noInitDb: true })
    try {
      return new Uint8Array(await (await reader.dumpDataDir('gzip')).arrayBuffer())
    } finally {
      await reader.close()
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** Writes `template` to `path` whole or not at all: concurrent starts may both write it. */
export async function writePgliteTemplate(path: string, template: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const partial = `${path}.${process.pid}.${Date.now()}.partial`
  try {
    await writeFile(partial, template)
    await rename(partial, path)
  } finally {
    await rm(partial, { force: true })
  }
}

/** Templates made in this process that could not be saved (a read-only node_modules), by path. */
const unsaved = new Map<string, Promise<Uint8Array | undefined>>()

/** A template (gzipped), and the file it was read from (none when made just now). */
interface Template {
  readonly gzipped: Uint8Array
  readonly file?: string
}

/**
 * The template for a new in-memory database: read from `path`, or made (and saved there for the
 * next start) when there is none. Undefined when it can be neither read nor made: the caller
 * then runs initdb as PGlite does by default.
 */
async function pgliteTemplate(PGliteClass: PGliteClass, path: string, log: PgliteLog | undefined): Promise<Template | undefined> {
  const pending = unsaved.get(path)
  if (pending !== undefined) {
    const gzipped = await pending
    return gzipped === undefined ? undefined : { gzipped }
  }
  try {
    return { gzipped: await readFile(path), file: path }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      log?.warn({ err: error }, 'PGlite template unreadable: running initdb')
      return undefined
    }
  }
  const made = makePgliteTemplate(PGliteClass).catch((error: unknown) => {
    log?.warn({ err: error }, 'PGlite template could not be made: running initdb')
    return undefined
  })
  // Until saved, other databases opened meanwhile by this process wait for this one.
  unsaved.set(path, made)
  const gzipped = await made
  if (gzipped === undefined) return undefined
  try {
    await writePgliteTemplate(path, gzipped)
    unsaved.delete(path)
  } catch {
    // Kept in this process only: every database it opens still skips initdb.
  }
  return { gzipped }
}

/**
 * Rejects unless `gzipped` is whole gzip (its checksum and length match) of a tarball (its first
 * header says ustar), keeping none of the output.
 */
async function checkTemplate(gzipped: Uint8Array): Promise<void> {
  let head = Buffer.alloc(0)
  const inspect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (head.length < 512) head = Buffer.concat([head, chunk]).subarray(0, 512)
      done()
    },
  })
  await pipeline(Readable.from([gzipped]), createGunzip(), inspect)
  if (head.subarray(257, 262).toString('latin1') !== 'ustar') throw new Error('the template is not a tarball')
}

export interface StartPgliteOptions {
  /** In memory when absent. */
  readonly dataDir?: string
  readonly log?: PgliteLog
  /** The template's file; pgliteTemplatePath() when absent. */
  readonly templatePath?: string
}

/**
 * Starts PGlite. In `dataDir` as before, with PGLITE_SETTINGS: an existing database opens as it
 * is, an empty directory gets initdb. In memory from the template, or with initdb when there is
 * none or it does not load.
 */
export async function startPglite(options: StartPgliteOptions = {}): Promise<PGlite> {
  const { dataDir, log } = options
  keepWasmOnBaselineTier()
  const { PGlite: PGliteClass } = await import('@electric-sql/pglite')
  const settings = (): PGliteOptions => ({ startParams: [...PGliteClass.defaultStartParams, ...PGLITE_SETTINGS] })
  if (dataDir !== undefined) return PGliteClass.create(dataDir, settings())
  let template: Template | undefined
  try {
    template = await pgliteTemplate(PGliteClass, options.templatePath ?? (await pgliteTemplatePath()), log)
  } catch (error) {
    log?.warn({ err: error }, 'PGlite template: no place for it, running initdb')
  }
  if (template !== undefined) {
    try {
      // Checked here first: PGlite's own unzipping leaves a rejection unhandled, which ends the
      // process, when the data is not whole gzip of a tarball. (Handing PGlite the tarball
      // unzipped here instead costs ~20 MiB more resident memory.)
      await checkTemplate(template.gzipped)
      const withTemplate: PGliteOptions = { ...settings(), loadDataDir: new Blob([template.gzipped], { type: 'application/x-gzip' }) }
      const db = await PGliteClass.create(withTemplate)
      // PGlite holds on to its options object: drop the tarball, loaded and no longer needed.
      delete withTemplate.loadDataDir
      return db
    } catch (error) {
      log?.warn({ err: error, file: template.file }, 'PGlite template did not load: running initdb')
      // Made anew by the next start (where node_modules is writable).
      if (template.file !== undefined) await rm(template.file, { force: true }).catch(() => undefined)
    }
  }
  return PGliteClass.create(settings())
}
