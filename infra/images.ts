// The service images, one per service of the model, built from services/Dockerfile with the
// repository root as context. Each tag is a hash of what the build reads (the Dockerfile, the
// manifests, the sources the image copies and the build arguments), so a tag names one content
// and never moves; an unchanged service keeps its tag and its containers.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import * as docker from '@pulumi/docker'
import * as pulumi from '@pulumi/pulumi'

/** One service image to build. */
export interface ServiceImageSpec {
  /** Workspace folder under services/ (build argument SERVICE). */
  readonly name: string
  /** Port the image exposes (build argument PORT). */
  readonly port: number
}

export interface ServiceImagesArgs {
  /** Absolute path of the repository root: the build context. */
  readonly repoRoot: string
  readonly services: readonly ServiceImageSpec[]
  /** Base image (build argument NODE_IMAGE), pinned, e.g. `node:24.21.0-bookworm-slim`. */
  readonly nodeImage: string
  /**
   * Where to push. Unset: the images stay in the local engine (`skipPush`) under
   * `localRepository/<service>:<hash>`.
   */
  readonly registry?: {
    readonly server: string
    /** Path under the server, e.g. `acme/platform`. */
    readonly repository: string
    readonly username: string
    readonly password: pulumi.Input<string>
  }
  /** Repository of local images; default `platform`. */
  readonly localRepository?: string
}

/** The service images: `imageNames[service]` is the exact reference containers and pods run. */
export class ServiceImages extends pulumi.ComponentResource {
  /** `repository:hash` per service, known at preview (the hash is computed here, not by Docker). */
  readonly imageNames: Readonly<Record<string, pulumi.Output<string>>>
  /** Content hash (the tag) per service. */
  readonly tags: Readonly<Record<string, string>>

  constructor(name: string, args: ServiceImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('microservice-platform:images:ServiceImages', name, {}, opts)
    const registry = args.registry
    const repository = registry === undefined ? (args.localRepository ?? 'platform') : `${registry.server}/${registry.repository}`
    const imageNames: Record<string, pulumi.Output<string>> = {}
    const tags: Record<string, string> = {}
    for (const service of args.services) {
      const buildArgs = { SERVICE: service.name, PORT: String(service.port), NODE_IMAGE: args.nodeImage }
      const tag = buildInputsHash(args.repoRoot, service.name, buildArgs)
      const image = new docker.Image(
        `${name}-${service.name}`,
        {
          imageName: `${repository}/${service.name}:${tag}`,
          build: {
            context: args.repoRoot,
            dockerfile: join(args.repoRoot, 'services', 'Dockerfile'),
            args: buildArgs,
          },
          skipPush: registry === undefined,
          ...(registry === undefined
            ? {}
            : { registry: { server: registry.server, username: registry.username, password: pulumi.secret(registry.password) } }),
        },
        { parent: this },
      )
      imageNames[service.name] = image.imageName
      tags[service.name] = tag
    }
    this.imageNames = imageNames
    this.tags = tags
    this.registerOutputs({ imageNames })
  }
}

/** Files outside a service's own folder that every image build reads. */
const SHARED_INPUTS = ['services/Dockerfile', 'services/bundle.ts', '.dockerignore', 'package.json', 'package-lock.json']

/**
 * The tag of one service image: the first 16 hex digits of a SHA-256 over the build arguments
 * and every file the build can read for that service (a superset errs towards a rebuild,
 * never towards a stale tag).
 */
export function buildInputsHash(repoRoot: string, service: string, buildArgs: Readonly<Record<string, string>>): string {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces?: string[] }
  const files = new Set<string>(SHARED_INPUTS)
  for (const workspace of workspaceFolders(repoRoot, manifest.workspaces ?? [])) files.add(`${workspace}/package.json`)
  for (const folder of ['services/kit/src', `services/${service}/src`]) {
    for (const file of listFiles(join(repoRoot, folder))) files.add(relative(repoRoot, file))
  }
  const hash = createHash('sha256')
  hash.update(JSON.stringify(Object.entries(buildArgs).sort(([a], [b]) => a.localeCompare(b))))
  for (const file of [...files].sort()) {
    hash.update(`\0${file}\0`)
    hash.update(readFileSync(join(repoRoot, file)))
  }
  return hash.digest('hex').slice(0, 16)
}

/**
 * The workspace folders the root manifest names: a folder as written, or every folder with a
 * package.json for a trailing `/*` (`services/*`), as npm expands it.
 */
function workspaceFolders(repoRoot: string, workspaces: readonly string[]): string[] {
  return workspaces.flatMap((workspace) => {
    if (!workspace.endsWith('/*')) return [workspace]
    const parent = workspace.slice(0, -2)
    return readdirSync(join(repoRoot, parent))
      .filter((entry) => existsSync(join(repoRoot, parent, entry, 'package.json')))
      .sort()
      .map((entry) => `${parent}/${entry}`)
  })
}

function listFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry)
    return statSync(path).isDirectory() ? listFiles(path) : [path]
  })
}
