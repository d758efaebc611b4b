// The fake GitHub itself: requests GitHub would refuse are refused the same way and recorded as violations.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { startFakeGitHub, type FakeGitHub } from '../../../helpers/fake-github/index.js';

let fake: FakeGitHub;
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
before(async () => {
  fake = await startFakeGitHub({ appPublicKey: keys.publicKey, appId: 1 });
});
after(() => fake.close());

async function call(method: string, path: string, body?: unknown, auth: string | null = 'token ghp_x') {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

function jwt(privateKey: string, iss: number): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const data = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ iss, iat: Math.floor(Date.now() / 1000) - 30, exp: Math.floor(Date.now() / 1000) + 300 })}`;
  return `${data}.${createSign('RSA-SHA256').update(data).sign(privateKey).toString('base64url')}`;
}

test('a valid request is served and not a violation', async () => {
  const r = await call('POST', '/repos/o/r/issues/1/comments', { body: 'hello' });
  assert.equal(r.status, 201);
  assert.deepEqual(fake.violations, []);
});

test('bodies that break the OpenAPI schema answer 422 and are recorded', async () => {
  const before = fake.violations.length;
  assert.equal((await call('POST', '/repos/o/r/issues/1/comments', { text: 'no body field' })).status, 422);
  assert.equal((await call('POST', '/repos/o/r/statuses/abc', { state: 'green' })).status, 422);
  assert.equal((await call('POST', '/repos/o/r/issues/comments/1/reactions', { content: 'thumbsup' })).status, 422);
  assert.equal(fake.violations.length, before + 3);
  assert.match(fake.violations.at(-1)!.errors.join(), /allowed values/);
});

test("GitHub's documented limits beyond the schema", async () => {
  const before = fake.violations.length;
  assert.equal((await call('POST', '/repos/o/r/issues/1/comments', { body: 'x'.repeat(65_537) })).status, 422);
  assert.equal(
    (await call('POST', '/repos/o/r/statuses/abc', { state: 'success', description: 'd'.repeat(141) })).status,
    422,
  );
  assert.equal(
    (await call('POST', '/repos/o/r/statuses/abc', { state: 'success', description: 'd'.repeat(140) })).status,
    201,
  );
  const token = (
    await call('POST', '/app/installations/5/access_tokens', undefined, `Bearer ${jwt(keys.privateKey, 1)}`)
  ).body.token;
  const annotation = { path: 'a.yml', start_line: 1, end_line: 1, annotation_level: 'failure', message: 'm' };
  const check = (output: object) =>
    call('POST', '/repos/o/r/check-runs', { name: 'c', head_sha: 'abc', output }, `token ${token}`);
  assert.equal((await check({ title: 't', summary: 's', annotations: Array(51).fill(annotation) })).status, 422);
  assert.equal((await check({ title: 't', summary: 's'.repeat(65_536) })).status, 422);
  assert.equal((await check({ title: 't', summary: 's', annotations: Array(50).fill(annotation) })).status, 201);
  assert.equal(
    (await call('POST', '/repos/o/r/check-runs', { name: 'c', head_sha: 'abc', status: 'completed' }, `token ${token}`))
      .status,
    422,
    'completed needs a conclusion',
  );
  assert.equal(fake.violations.length, before + 5);
});

test('undocumented endpoints and missing or wrong credentials are refused', async () => {
  const before = fake.violations.length;
  assert.equal((await call('POST', '/repos/o/r/comments/1/hug', {})).status, 404);
  assert.equal((await call('GET', '/repos/o/r', undefined, null)).status, 401);
  assert.equal(
    (await call('POST', '/app/installations/5/access_tokens', undefined, 'token ghp_x')).status,
    401,
    'a PAT is not an App JWT',
  );
  const other = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  assert.equal(
    (await call('POST', '/app/installations/5/access_tokens', undefined, `Bearer ${jwt(other.privateKey, 1)}`)).status,
    401,
    'signed by another key',
  );
  assert.equal(
    (await call('POST', '/app/installations/5/access_tokens', undefined, `Bearer ${jwt(keys.privateKey, 2)}`)).status,
    401,
    'another App',
  );
  assert.equal(
    (await call('GET', '/repos/o/r', undefined, `Bearer ${jwt(keys.privateKey, 1)}`)).status,
    401,
    'the JWT is for /app only',
  );
  assert.equal(
    (await call('POST', '/repos/o/r/check-runs', { name: 'c', head_sha: 'abc' })).status,
    403,
    'check runs need an App',
  );
  assert.equal(fake.violations.length, before + 6);
});

test('injected failures answer once, with their headers', async () => {
  fake.failNext({ route: '/repos/{owner}/{repo}', status: 503, headers: { 'retry-after': '7' } });
  const res = await fetch(`${fake.url}/repos/o/r`, { headers: { authorization: 'token ghp_x' } });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '7');
  assert.equal((await call('GET', '/repos/o/r')).status, 200);
});

test('lists are paginated with a Link header', async () => {
  for (let i = 0; i < 5; i++) await call('POST', '/repos/o/p/issues/2/comments', { body: `c${i}` });
  const res = await fetch(`${fake.url}/repos/o/p/issues/2/comments?per_page=2`, {
    headers: { authorization: 'token ghp_x' },
  });
  assert.equal(((await res.json()) as unknown[]).length, 2);
  assert.match(res.headers.get('link') ?? '', /page=2.*rel="next"/);
});
