// ESLint's rules for the web app (frontend/js), run by
// tests/scripts/test_frontend_lint.sh in `make test`. ESLint and Prettier are
// pinned in tests/tools/package-lock.json. Formatting (line length included)
// is Prettier's job (tests/tools/prettier.config.mjs); ESLint looks for bugs.
import js from '@eslint/js';

// The browser globals the app uses, named so that a typo is still an error.
const browser = Object.fromEntries(
  [
    'AbortController', 'atob', 'Blob', 'CustomEvent', 'DOMParser', 'Event', 'FileReader', 'FormData',
    'Headers', 'Intl', 'Node', 'Request', 'Response', 'TextDecoder', 'TextEncoder', 'URL',
    'URLSearchParams', 'clearInterval', 'clearTimeout', 'console', 'crypto', 'document', 'fetch',
    'history', 'localStorage', 'location', 'matchMedia', 'navigator', 'queueMicrotask',
    'requestAnimationFrame', 'sessionStorage', 'setInterval', 'setTimeout', 'window',
  ].map((name) => [name, 'readonly']),
);

export default [
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: browser },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-implicit-globals': 'error',
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_' }],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
];
