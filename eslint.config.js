// @ts-check
const eslint = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', '.sandbox/', '.temporal/', 'artifacts/', 'coverage/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      // Workflow code is bundled into Temporal's deterministic sandbox: no I/O modules; activities type-only.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'axios', 'fs', 'http', 'https', 'crypto'], message: 'No I/O in workflow code.' },
            {
              group: ['../activities', '../activities/*', '../wechatpay/http*'],
              allowTypeImports: true,
              message: 'Import activities type-only (proxyActivities).',
            },
          ],
        },
      ],
    },
  },
);
