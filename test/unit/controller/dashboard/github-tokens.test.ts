// A person's GitHub token on the dashboard's JSON API (controller/dashboard/github-tokens.ts): GitHub's GET /user says
// whose it is; answers are cached per token for a while, refusals briefly, failures not at all.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { githubTokens } from '../../../../controller/dashboard/github-tokens.js';

/** Stands for GitHub's GET /user: answers by token, counts what it was asked. */
const answers = new Map<string, { status: number; body: unknown }>();
const asked: string[] = [];
let server: http.Server;
let apiUrl: string;

before(async () => {
  server = http.createServer((req, res) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    asked.push(`${req.method} ${req.url} ${token}`);
    const a = answers.get(token) ?? { status: 401, body: { message: 'Bad credentials' } };
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test("a person's token: asked once within the cache time, with the token as a Bearer", async () => {
  answers.set('ghp_alice0123456789abcdef', { status: 200, body: { login: 'alice', id: 1 } });
  const tokens = githubTokens({ apiUrl, ttlMs: 60_000 });
  asked.length = 0;
  assert.deepEqual(await tokens.verify('ghp_alice0123456789abcdef'), { login: 'alice' });
  assert.deepEqual(await tokens.verify('ghp_alice0123456789abcdef'), { login: 'alice' });
  assert.deepEqual(asked, ['GET /user ghp_alice0123456789abcdef']);
  const fresh = githubTokens({ apiUrl, ttlMs: 0 });
  await fresh.verify('ghp_alice0123456789abcdef');
  await fresh.verify('ghp_alice0123456789abcdef');
  assert.equal(asked.length, 3, 'asked again once the answer is too old');
  // Anything that cannot be a token is refused without asking.
  for (const bad of ['short', 'ghp_has space in it 0123', 'x'.repeat(300)])
    assert.deepEqual(await tokens.verify(bad), { refused: 'this is not a GitHub token' });
  assert.equal(asked.length, 3);
});

test("a token GitHub refuses (401 unknown, 403 an App's) is refused with the reason, and remembered briefly", async () => {
  answers.set('ghs_installation0123456789', {
    status: 403,
    body: { message: 'Resource not accessible by integration' },
  });
  const tokens = githubTokens({ apiUrl });
  asked.length = 0;
  const unknown = await tokens.verify('ghp_nobody0123456789abcdef');
  assert.ok('refused' in unknown && /GET \/user answered 401/.test(unknown.refused));
  const app = await tokens.verify('ghs_installation0123456789');
  assert.ok('refused' in app && /GET \/user answered 403/.test(app.refused));
  await tokens.verify('ghp_nobody0123456789abcdef');
  assert.equal(asked.length, 2, 'the refusal is remembered');
});

test('GitHub failing is an error, not a refusal, and is not remembered', async () => {
  answers.set('ghp_busy0123456789abcdef', { status: 502, body: { message: 'Bad Gateway' } });
  const tokens = githubTokens({ apiUrl });
  asked.length = 0;
  await assert.rejects(tokens.verify('ghp_busy0123456789abcdef'), /GET \/user answered 502/);
  answers.set('ghp_busy0123456789abcdef', { status: 200, body: { login: 'busy' } });
  assert.deepEqual(await tokens.verify('ghp_busy0123456789abcdef'), { login: 'busy' });
  assert.equal(asked.length, 2);
  answers.set('ghp_odd0123456789abcdef', { status: 200, body: { id: 3 } });
  await assert.rejects(tokens.verify('ghp_odd0123456789abcdef'), /did not name a login/);
});
