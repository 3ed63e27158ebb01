// ESLint's configuration for the page's JavaScript (CI runs it with `npx eslint@9`; nothing is installed in
// the repository). No shared preset is imported, so the rules are listed here: mistakes that would break
// the page at run time (an undefined name, a misspelt variable), and habits the page keeps.
const browser = Object.fromEntries(['window', 'document', 'location', 'history', 'localStorage', 'EventSource', 'fetch',
  'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'requestAnimationFrame', 'performance', 'Intl', 'Event',
  'EventTarget', 'Node', 'URL', 'URLSearchParams', 'CSS', 'console', 'addEventListener', 'scrollTo', 'TextEncoder', 'atob', 'crypto', 'Uint8Array', 'Blob', 'getComputedStyle'].map((g) => [g, 'readonly']));

// The page's unit tests run under Node: they may use its own modules and globals.
const node = { ...browser, URL: 'readonly', process: 'readonly' };

export default [
  {
    files: ['static/js/**/*.js', 'jstest/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: browser },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': ['error', { args: 'none' }],
      'no-redeclare': 'error',
      'no-shadow-restricted-names': 'error',
      'no-dupe-keys': 'error',
      'no-duplicate-imports': 'error',
      'no-unreachable': 'error',
      'no-self-assign': 'error',
      'no-constant-condition': 'error',
      'use-isnan': 'error',
      'valid-typeof': 'error',
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-script-url': 'error',
    },
  },
  { files: ['jstest/**/*.js'], languageOptions: { globals: node } },
];
