/** A table of strings, left column left-aligned, the others right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')
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
