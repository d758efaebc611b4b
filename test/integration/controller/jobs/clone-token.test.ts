/** Clone tokens: the configured token, or a GitHub App installation token minted through the (fake) GitHub API. */
import { polledRepository } from '../../../../kernel/repository.js';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readConfig } from '../../../../controller/config.js';
import { cloneToken, githubAuth } from '../../../../controller/jobs/clone-token.js';
import { createLogger } from '../../../../controller/logger.js';
import { startFakeGitHub, type FakeGitHub } from '../../../helpers/fake-github/index.js';

describe('cloneToken', () => {
  let github: FakeGitHub;
  const logger = createLogger({ level: 'silent' });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const repo = {
    kind: 'github' as const,
    owner: 'acme',
    name: 'infra',
    installationId: 12,
    cloneUrl: 'https://github.com/acme/infra.git',
    defaultBranch: 'main',
  };
  before(async () => {
    github = await startFakeGitHub({ appPublicKey: publicKey, appId: 5 });
  });
  after(async () => {
    await github.close();
  });

  test('as a GitHub App: the installation token of the repository', async () => {
    const config = readConfig({ GITHUB_APP_ID: '5', GITHUB_PRIVATE_KEY: privateKey, GITHUB_API_URL: github.url });
    const token = await cloneToken(githubAuth(config), config, logger)!(repo);
    assert.match(token ?? '', /^ghs_fake12x/);
    assert.equal(github.state.tokens.get(token!), 12);
    assert.equal(
      await cloneToken(githubAuth(config), config, logger)!(polledRepository('/srv/infra', 'main')),
      undefined,
      'poll-mode repositories clone anonymously',
    );
  });

  test('with a token: that token; without credentials: anonymous', async () => {
    const config = readConfig({ GITHUB_TOKEN: 'pat-123', GITHUB_API_URL: github.url });
    assert.equal(await cloneToken(githubAuth(config), config, logger)!(repo), 'pat-123');
    assert.equal(cloneToken(githubAuth(readConfig({})), readConfig({}), logger), undefined);
  });
});
