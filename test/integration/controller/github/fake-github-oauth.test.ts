// The fake GitHub's sign-in endpoints answer as GitHub documents its web application flow (form or JSON bodies, JSON
// or form-encoded answers, errors with status 200, codes used once), so the dashboard's sign-in is tested against it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeGitHub, type FakeGitHub } from '../../../helpers/fake-github/index.js';

describe('fake GitHub: sign-in (web application flow)', () => {
  let gh: FakeGitHub;
  before(async () => {
    gh = await startFakeGitHub({ oauth: { callbackUrl: 'http://app.example/auth/github/callback' } });
  });
  after(async () => {
    await gh.close();
  });

  async function code(login: string | null): Promise<URL> {
    gh.oauth.signInAs(login);
    const q = new URLSearchParams({
      client_id: gh.oauth.clientId,
      redirect_uri: 'http://app.example/auth/github/callback',
      state: 'st4te',
    });
    const res = await fetch(`${gh.url}/login/oauth/authorize?${q}`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    return new URL(res.headers.get('location')!);
  }

  test('authorize redirects back with a code and the state, or access_denied when the user cancels', async () => {
    const back = await code('alice');
    assert.equal(back.origin + back.pathname, 'http://app.example/auth/github/callback');
    assert.equal(back.searchParams.get('state'), 'st4te');
    assert.match(back.searchParams.get('code') ?? '', /^[0-9a-f]{20}$/);
    const denied = await code(null);
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'st4te');
    const other = await fetch(
      `${gh.url}/login/oauth/authorize?client_id=${gh.oauth.clientId}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`,
      { redirect: 'manual' },
    );
    assert.equal(other.status, 400, 'a redirect_uri other than the registered callback is refused');
    const unknown = await fetch(`${gh.url}/login/oauth/authorize?client_id=nope`, { redirect: 'manual' });
    assert.equal(unknown.status, 404);
  });

  test('access_token: a form body answered form-encoded, a JSON body answered JSON; GET /user with the token', async () => {
    const first = (await code('alice')).searchParams.get('code')!;
    const form = await fetch(`${gh.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: gh.oauth.clientId, client_secret: gh.oauth.clientSecret, code: first }),
    });
    assert.equal(form.status, 200);
    const answer = new URLSearchParams(await form.text());
    assert.match(answer.get('access_token') ?? '', /^ghu_/);
    assert.equal(answer.get('token_type'), 'bearer');
    const second = (await code('bob')).searchParams.get('code')!;
    const json = await fetch(`${gh.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: gh.oauth.clientId, client_secret: gh.oauth.clientSecret, code: second }),
    });
    const body = (await json.json()) as { access_token: string; token_type: string; scope: string };
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'scope', 'token_type']);
    const user = await fetch(`${gh.url}/user`, { headers: { authorization: `Bearer ${body.access_token}` } });
    assert.equal(user.status, 200);
    assert.equal(((await user.json()) as { login: string }).login, 'bob');
    const noUser = await fetch(`${gh.url}/user`, { headers: { authorization: 'Bearer ghu_unknown' } });
    assert.equal(noUser.status, 401);
  });

  test('errors come with status 200 and error, error_description, error_uri', async () => {
    const exchange = async (params: Record<string, string>) => {
      const res = await fetch(`${gh.url}/login/oauth/access_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ client_id: gh.oauth.clientId, client_secret: gh.oauth.clientSecret, ...params }),
      });
      assert.equal(res.status, 200);
      return (await res.json()) as { error?: string; error_description?: string; error_uri?: string };
    };
    const c = (await code('alice')).searchParams.get('code')!;
    assert.equal((await exchange({ code: c, client_secret: 'wrong' })).error, 'incorrect_client_credentials');
    assert.equal(
      (await exchange({ code: c, redirect_uri: 'http://app.example/elsewhere' })).error,
      'redirect_uri_mismatch',
    );
    assert.ok((await exchange({ code: c })).error === undefined, 'the code still works after refused attempts');
    const reused = await exchange({ code: c });
    assert.equal(reused.error, 'bad_verification_code');
    assert.equal(reused.error_description, 'The code passed is incorrect or expired.');
    assert.match(reused.error_uri ?? '', /^https:\/\/docs\.github\.com\//);
  });
});
