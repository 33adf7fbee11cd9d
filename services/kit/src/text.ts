import Type, { type TString } from 'typebox'

/**
 * Text a person typed and another reads: at least one visible character (not only spaces,
 * marks or default-ignorable characters such as U+200B or U+3164), and no control (Cc: C0, DEL,
 * C1; NUL would also make PostgreSQL fail) or format character (Cf: U+200B, the bidirectional
 * overrides such as U+202E, soft hyphens), which would hide or reorder what is shown. The two
 * joiners are the exception: U+200C (zero-width non-joiner) is part of how Persian and several
 * Indic names are spelled, and U+200D (zero-width joiner) builds emoji such as 👩‍💻; neither can
 * hide or reorder text. Unpaired UTF-16 surrogates (not encodable as UTF-8) are refused too.
 * Ajv compiles patterns with the `u` flag.
 */
const PRINTABLE =
  '^(?=[\\s\\S]*[^\\p{White_Space}\\p{C}\\p{M}\\p{Default_Ignorable_Code_Point}])(?:[\\u200C\\u200D]|[^\\p{Cc}\\p{Cf}\\p{Cs}])+$'

/** A string schema for such text, e.g. `PrintableText({ maxLength: 200 })`. */
export function PrintableText(options: {
  readonly maxLength: number
  readonly description?: string
  readonly examples?: readonly string[]
}): TString {
  return Type.String({ minLength: 1, pattern: PRINTABLE, ...options })
}
