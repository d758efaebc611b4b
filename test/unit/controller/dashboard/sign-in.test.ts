// Pure parts of the dashboard's sign-in (docs/controller.md, "Signing in and who sees what"): where a sign-in may
// return to, and the per-repository permission cache in front of GitHub's collaborator permission endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeReturnPath } from '../../../../controller/dashboard/oauth.js';
import {
  cachedPermissions,
  githubRepository,
  mayAct,
  mayRead,
  type Permission,
} from '../../../../controller/dashboard/permissions.js';

test('a sign-in returns only to a path of the dashboard itself', () => {
  assert.equal(safeReturnPath('/runs/12?x=1#actions'), '/runs/12?x=1#actions');
  for (const bad of ['//evil.example/x', '/\\evil.example', 'https://evil.example/', 'runs', '', undefined, ['/a']])
    assert.equal(safeReturnPath(bad), '/', JSON.stringify(bad));
});

test('read and triage read; write, maintain and admin act; none does neither', () => {
  const all: Permission[] = ['none', 'read', 'triage', 'write', 'maintain', 'admin'];
  assert.deepEqual(all.filter(mayRead), ['read', 'triage', 'write', 'maintain', 'admin']);
  assert.deepEqual(all.filter(mayAct), ['write', 'maintain', 'admin']);
});

test('permissions are asked once per repository and login (any case) within the cache time; polled ones are none', async () => {
  const asked: string[] = [];
  // Stands for GitHub's answer.
  const github = async (repo: { owner: string; name: string }, login: string): Promise<Permission> => {
    asked.push(`${repo.owner}/${repo.name}:${login}`);
    return login === 'alice' ? 'write' : 'read';
  };
  const permission = cachedPermissions(github, { ttlMs: 60_000 });
  assert.equal(await permission('acme/infra', 'alice'), 'write');
  assert.equal(await permission('acme/infra', 'ALICE'), 'write');
  assert.equal(await permission('acme/infra', 'bob'), 'read');
  assert.equal(await permission('acme/other', 'alice'), 'write');
  assert.deepEqual(asked, ['acme/infra:alice', 'acme/infra:bob', 'acme/other:alice']);
  assert.equal(await permission('/srv/infra', 'alice'), 'none');
  assert.equal(githubRepository('https://git.example.com/ops.git'), null);
  assert.equal(asked.length, 3, 'a polled repository is never asked about');

  const fresh = cachedPermissions(github, { ttlMs: 0 });
  await fresh('acme/infra', 'alice');
  await fresh('acme/infra', 'alice');
  assert.equal(asked.length, 5, 'asked again once the cached answer is too old');
  const failing = cachedPermissions(async () => Promise.reject(new Error('GitHub is down')));
  assert.equal(await failing('acme/infra', 'alice'), 'none', 'an unanswered question grants nothing');
});
