// A generated section of a Markdown file: the text between `<!-- NAME:start -->` and
// `<!-- NAME:end -->`, read by the tests that keep it current and rewritten by `npm run docs`.
import { readFileSync, writeFileSync } from 'node:fs'

const markers = (name: string) => ({ start: `<!-- ${name}:start -->\n`, end: `\n<!-- ${name}:end -->` })

/** The section `name` as it stands in `text`, or undefined when its markers are missing. */
export function generatedSection(text: string, name: string): string | undefined {
  const { start, end } = markers(name)
  return text.split(start)[1]?.split(end)[0]
}

/** Rewrites the section `name` of the file at `path` with `content`. */
export function writeGeneratedSection(path: URL, name: string, content: string): void {
  const text = readFileSync(path, 'utf8')
  const current = generatedSection(text, name)
  if (current === undefined) throw new Error(`${path.pathname} has no ${name} markers`)
  const { start, end } = markers(name)
  writeFileSync(path, text.replace(`${start}${current}${end}`, `${start}${content}${end}`))
}
