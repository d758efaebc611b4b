// `apply_from_pull_request` (docs/language.md, "Apply from a pull request"): off by default, inherited through
// `extends`, switched off again by a child, and only a boolean.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadInvalid, loadValid } from './helpers.js';

const description = (staging: string, production: string) => `politburo: 1
blueprints:
  shop:
    resources:
      web: { tasks: [{ name: t, met: 'true', meet: 'true' }] }
environments:
  staging:
    blueprint: shop
    hosts: { web: local }
${staging}
  production:
    extends: staging
    hosts: { web: local }
${production}
  other:
    blueprint: shop
    hosts: { web: local }
`;

test('off by default; inherited through extends; a child may switch it off', async () => {
  const on = await loadValid(description('    apply_from_pull_request: true', ''));
  assert.equal(on.get('staging')!.policy?.applyFromPullRequest, true);
  assert.equal(on.get('production')!.policy?.applyFromPullRequest, true);
  assert.equal(on.get('other')!.policy?.applyFromPullRequest ?? false, false);
  const off = await loadValid(
    description('    apply_from_pull_request: true', '    apply: manual\n    apply_from_pull_request: false'),
  );
  assert.equal(off.get('production')!.policy?.applyFromPullRequest ?? false, false);
  assert.equal(off.get('production')!.policy?.apply, 'manual');
});

test('a value that is not a boolean is an error naming the key and its line', async () => {
  const errors = await loadInvalid(description("    apply_from_pull_request: 'yes'", ''));
  assert.equal(errors.length, 1);
  assert.match(errors[0], /politburo\.yml:10:\d+: .*apply_from_pull_request/);
});
