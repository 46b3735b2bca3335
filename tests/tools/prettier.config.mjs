// Prettier's format for the web app (frontend/), checked by
// tests/scripts/test_frontend_lint.sh in `make test`: the style the code was
// written in (single quotes, trailing commas), lines up to 120 columns.
export default {
  printWidth: 120,
  singleQuote: true,
  trailingComma: 'all',
};
