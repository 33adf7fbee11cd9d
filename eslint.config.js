import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'services/*/dist/**', '.data/**', '.pulumi/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "LogicalExpression[operator='||'] > Literal[value=/^(0|false)$/]",
          message: 'Use ?? for defaults so 0 and false survive.',
        },
      ],
    },
  },
)
