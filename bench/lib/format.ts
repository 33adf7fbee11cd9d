/**
 * A table of strings: numbers read best right-aligned, text left-aligned. `leftAligned` lists
 * the text columns (by default the first).
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[], leftAligned: readonly number[] = [0]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (leftAligned.includes(column) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n')
}

/** `value` with `digits` decimals, or `–` when it is not a finite number. */
export function fixed(value: number | undefined, digits = 0): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)
}

/** Milliseconds with a precision suited to their size. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return Math.abs(value) < 10 ? value.toFixed(2) : value.toFixed(1)
}

/** A signed difference in milliseconds. */
export function deltaMs(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return `${value >= 0 ? '+' : ''}${ms(value)}`
}

/** A share (0–1) as a whole percentage, `–` when not finite. */
export function percent(share: number | undefined): string {
  return share === undefined || !Number.isFinite(share) ? '–' : `${(100 * share).toFixed(0)}%`
}
