// What an apply's GitHub Deployment says for each state of its check (docs/controller.md, "Deployments on GitHub").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDeployment, deploymentState, waitingDeployment } from '../../../../controller/github/apply-deployment.js';
import { renderApplyCheck } from '../../../../controller/github/render-apply-check.js';
import type { CheckUpdate } from '../../../../controller/ports.js';

const links = { publicUrl: 'https://p.example', repository: 'acme/infra', environment: 'production' };
const ENV_PAGE = 'https://p.example/environments/acme%2Finfra/production';
const completed = (conclusion: CheckUpdate['conclusion'], title = '2 ready'): CheckUpdate => ({
  status: 'completed',
  conclusion,
  title,
  summary: '',
});

test('each apply check state maps to a deployment state; held checks (neutral) to none', () => {
  assert.deepEqual(
    [
      renderApplyCheck(null, { environment: 'production' }),
      renderApplyCheck(null, { environment: 'production', state: 'in_progress' }),
      completed('success'),
      completed('failure'),
      completed('cancelled'),
      renderApplyCheck(null, { environment: 'production', supersededBy: 'b'.repeat(40) }),
      completed('neutral'),
    ].map(deploymentState),
    ['queued', 'in_progress', 'success', 'failure', 'error', 'inactive', null],
  );
});

test('the description says what happened; links go to the environment, then to the run', () => {
  assert.deepEqual(
    applyDeployment(renderApplyCheck(null, { environment: 'production', state: 'in_progress' }), links),
    {
      state: 'in_progress',
      description: 'Applying production',
      logUrl: ENV_PAGE,
      environmentUrl: ENV_PAGE,
    },
  );
  assert.deepEqual(
    applyDeployment(completed('failure', '1 failed, 1 ready'), { ...links, runId: '42', trigger: 't' }),
    {
      state: 'failure',
      description: 'Apply of production failed: 1 failed, 1 ready',
      logUrl: 'https://p.example/runs/42',
      environmentUrl: ENV_PAGE,
      trigger: 't',
      runId: '42',
    },
  );
  assert.equal(applyDeployment(completed('success'), links)?.description, 'Applied production: 2 ready');
  assert.equal(applyDeployment(completed('neutral'), links), null);
});

test('without POLITBURO_PUBLIC_URL there are no links', () => {
  const d = applyDeployment(completed('success'), { repository: 'acme/infra', environment: 'staging', runId: '1' });
  assert.deepEqual(d, { state: 'success', description: 'Applied staging: 2 ready', runId: '1' });
});

test('a commit waiting for release is a pending deployment saying how to release it', () => {
  assert.deepEqual(waitingDeployment(links, '1 to update'), {
    state: 'pending',
    description: 'Waiting for release (1 to update): comment /politburo apply production',
    logUrl: ENV_PAGE,
    environmentUrl: ENV_PAGE,
  });
});
