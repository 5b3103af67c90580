import neostandard from 'neostandard'

// fastify's own style (neostandard), with TypeScript.
export default [
  ...neostandard({ ts: true, ignores: ['**/dist/**', '**/node_modules/**', '.data/**', '.tools/**', 'bench/results/**'] }),
  {
    rules: {
      // `void promise` marks a deliberate fire-and-forget.
      'no-void': ['error', { allowAsStatement: true }],
    },
  },
  {
    // TypeBox's idiom: a schema and its static type share one name.
    files: ['packages/contracts/src/**/*.ts', 'services/*/src/**/schemas.ts'],
    rules: { '@typescript-eslint/no-redeclare': 'off' },
  },
]
