/**
 * A Reporter that only logs: poll mode without GitHub credentials, and every poll-mode repository. Results still reach
 * the dashboard through the state store; here they reach the log as one line per report.
 */
import { describeRepository } from '../../kernel/repository.js';
import type { Logger } from '../logger.js';
import type { Reporter } from '../ports.js';

/** Creates the log-only reporter; `permission` answers `none`, so nothing untrusted is ever allowed through it. */
export function createLogReporter(logger: Logger): Reporter {
  const log = logger.child({ component: 'report' });
  return {
    async check(ref, update) {
      const level = update.conclusion === 'failure' ? 'warn' : 'info';
      log[level](
        {
          repo: describeRepository(ref.repo),
          sha: ref.sha,
          check: ref.name,
          status: update.status,
          conclusion: update.conclusion,
          url: update.detailsUrl,
        },
        `${ref.name}: ${update.title}`,
      );
    },
    async checkCompleted() {
      // Nothing is recorded of a logged check: never known to be final.
      return false;
    },
    async stickyComment(repo, pullNumber, body) {
      log.info({ repo: describeRepository(repo), pull: pullNumber, chars: body.length }, 'plan comment');
    },
    async reaction(repo, commentId, content) {
      log.info({ repo: describeRepository(repo), comment: commentId, content }, 'reaction');
    },
    async driftIssue(repo, environment, drift) {
      if (!drift) {
        log.info({ repo: describeRepository(repo), env: environment }, `drift of ${environment}: none`);
        return;
      }
      const drifted = drift.result.nodes.filter((n) => n.state === 'drifted').map((n) => n.path);
      const unchecked = (drift.result.unchecked ?? []).map((u) => `${u.path} (${u.reason})`);
      const notChecked = unchecked.length ? `, ${unchecked.length} not checked: ${unchecked.join('; ')}` : '';
      log.warn(
        {
          repo: describeRepository(repo),
          env: environment,
          drifted,
          unchecked,
          healed: drift.healed,
          url: drift.runUrl,
        },
        `drift of ${environment}: ${drifted.length} node(s) drifted${notChecked}`,
      );
    },
    async permission() {
      return 'none';
    },
    async reply(repo, thread, inReplyTo, body) {
      log.info({ repo: describeRepository(repo), thread, comment: inReplyTo }, body.split('\n', 1)[0]);
    },
    async mergeCommit() {
      return null;
    },
  };
}
