/**
 * A Reporter that only logs: poll mode without GitHub credentials, and every poll-mode repository. Results still reach
 * the dashboard through the state store; here they reach the log as one line per report.
 */
import type { Logger } from '../logger.js';
import type { Reporter } from '../ports.js';

/** Creates the log-only reporter; `permission` answers `none`, so nothing untrusted is ever allowed through it. */
export function createLogReporter(logger: Logger): Reporter {
  const log = logger.child({ component: 'report' });
  const where = (repo: { owner: string; name: string }) => (repo.owner ? `${repo.owner}/${repo.name}` : repo.name);
  return {
    async check(ref, update) {
      const level = update.conclusion === 'failure' ? 'warn' : 'info';
      log[level](
        {
          repo: where(ref.repo),
          sha: ref.sha,
          check: ref.name,
          status: update.status,
          conclusion: update.conclusion,
          url: update.detailsUrl,
        },
        `${ref.name}: ${update.title}`,
      );
    },
    async stickyComment(repo, pullNumber, body) {
      log.info({ repo: where(repo), pull: pullNumber, chars: body.length }, 'plan comment');
    },
    async reaction(repo, commentId, content) {
      log.info({ repo: where(repo), comment: commentId, content }, 'reaction');
    },
    async driftIssue(repo, environment, drift) {
      if (!drift) {
        log.info({ repo: where(repo), env: environment }, `drift of ${environment}: none`);
        return;
      }
      const drifted = drift.result.nodes.filter((n) => n.state === 'drifted').map((n) => n.path);
      const unchecked = (drift.result.unchecked ?? []).map((u) => `${u.path} (${u.reason})`);
      const notChecked = unchecked.length ? `, ${unchecked.length} not checked: ${unchecked.join('; ')}` : '';
      log.warn(
        { repo: where(repo), env: environment, drifted, unchecked, healed: drift.healed, url: drift.runUrl },
        `drift of ${environment}: ${drifted.length} node(s) drifted${notChecked}`,
      );
    },
    async permission() {
      return 'none';
    },
  };
}
