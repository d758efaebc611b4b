/** Handlers of the endpoints the reporter uses, keyed by `METHOD template` of GitHub's OpenAPI description. */
import type { FakeDeployment, FakeDeploymentStatus, FakeState, Permission } from './state.js';
import { nextIssueNumber } from './state.js';

export interface Call {
  params: Record<string, string>;
  query: URLSearchParams;
  body: any;
  repo: string;
  baseUrl: string;
  /** The installation the request's token belongs to (undefined for a PAT). */
  installationId?: number;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Handler = (state: FakeState, call: Call) => Reply;

const notFound: Reply = {
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
};

function checkRunJson(c: FakeState['checkRuns'][number], baseUrl: string) {
  return {
    ...c,
    url: `${baseUrl}/repos/${c.repo}/check-runs/${c.id}`,
    output: { ...c.output, annotations_count: c.annotations.length },
  };
}

function issueJson(i: FakeState['issues'][number], baseUrl: string) {
  return { ...i, url: `${baseUrl}/repos/${i.repo}/issues/${i.number}`, labels: i.labels.map((name) => ({ name })) };
}

function commentJson(c: FakeState['comments'][number], baseUrl: string) {
  return {
    id: c.id,
    body: c.body,
    user: { login: c.user, type: 'Bot' },
    url: `${baseUrl}/repos/${c.repo}/issues/comments/${c.id}`,
    issue_url: `${baseUrl}/repos/${c.repo}/issues/${c.issue_number}`,
  };
}

function applyCheckRun(run: FakeState['checkRuns'][number], body: any): void {
  if (body.status) run.status = body.status;
  if (body.conclusion) {
    run.conclusion = body.conclusion;
    run.status = 'completed';
  }
  if (body.details_url !== undefined) run.details_url = body.details_url;
  if (body.output) {
    run.output = {
      title: body.output.title ?? run.output.title,
      summary: body.output.summary ?? run.output.summary,
      text: body.output.text ?? run.output.text,
    };
    // Annotations are appended on every update, as GitHub documents.
    run.annotations.push(...(body.output.annotations ?? []));
  }
}

/** Paginates a list like GitHub: `per_page` (default 30, max 100), `page`, and a Link header with rel="next". */
function page<T>(items: T[], call: Call, path: string): Reply {
  const perPage = Math.min(100, Number(call.query.get('per_page') ?? 30));
  const pageNo = Number(call.query.get('page') ?? 1);
  const slice = items.slice((pageNo - 1) * perPage, pageNo * perPage);
  const headers: Record<string, string> = {};
  if (pageNo * perPage < items.length) {
    const next = new URLSearchParams(call.query);
    next.set('page', String(pageNo + 1));
    next.set('per_page', String(perPage));
    headers.link = `<${call.baseUrl}${path}?${next}>; rel="next"`;
  }
  return { status: 200, body: slice, headers };
}

function deploymentJson(d: FakeDeployment, baseUrl: string) {
  const url = `${baseUrl}/repos/${d.repo}/deployments/${d.id}`;
  return {
    url,
    id: d.id,
    node_id: `DE_${d.id}`,
    sha: d.sha,
    ref: d.ref,
    task: d.task,
    payload: d.payload,
    original_environment: d.environment,
    environment: d.environment,
    description: d.description,
    creator: { login: 'politburo[bot]', type: 'Bot' },
    created_at: d.created_at,
    updated_at: d.statuses.at(-1)?.created_at ?? d.created_at,
    statuses_url: `${url}/statuses`,
    repository_url: `${baseUrl}/repos/${d.repo}`,
    transient_environment: d.transient_environment,
    production_environment: d.production_environment,
  };
}

function deploymentStatusJson(d: FakeDeployment, st: FakeDeploymentStatus, baseUrl: string) {
  const deploymentUrl = `${baseUrl}/repos/${d.repo}/deployments/${d.id}`;
  return {
    url: `${deploymentUrl}/statuses/${st.id}`,
    id: st.id,
    node_id: `DES_${st.id}`,
    state: st.state,
    creator: { login: 'politburo[bot]', type: 'Bot' },
    description: st.description,
    environment: st.environment,
    target_url: st.log_url,
    log_url: st.log_url,
    environment_url: st.environment_url,
    created_at: st.created_at,
    updated_at: st.created_at,
    deployment_url: deploymentUrl,
    repository_url: `${baseUrl}/repos/${d.repo}`,
  };
}

/**
 * Contexts on a commit that are not `success`, as GitHub checks them before creating a deployment: commit statuses
 * (latest per context) and check runs (latest per name) whose names `required` lists, or all when it is absent.
 */
function unmetContexts(s: FakeState, repo: string, sha: string, required: string[] | undefined): string[] {
  const latest = new Map<string, string>();
  for (const st of s.statuses.filter((x) => x.repo === repo && x.sha === sha)) latest.set(st.context, st.state);
  for (const r of s.checkRuns.filter((x) => x.repo === repo && x.head_sha === sha))
    latest.set(r.name, r.status === 'completed' && r.conclusion ? r.conclusion : 'pending');
  const wanted = required ?? [...latest.keys()];
  return wanted.filter((c) => !['success', 'neutral', 'skipped'].includes(latest.get(c) ?? 'missing'));
}

export const handlers: Record<string, Handler> = {
  'POST /app/installations/{installation_id}/access_tokens': (s, c) => {
    const id = Number(c.params.installation_id);
    const token = `ghs_fake${id}x${s.nextId++}`;
    s.tokens.set(token, id);
    return {
      status: 201,
      body: {
        token,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: {
          checks: 'write',
          deployments: 'write',
          issues: 'write',
          pull_requests: 'write',
          statuses: 'write',
        },
        repository_selection: 'all',
      },
    };
  },
  'GET /repos/{owner}/{repo}/installation': (s, c) => ({
    status: 200,
    body: { id: 1, account: { login: c.params.owner }, app_id: 1 },
  }),
  'GET /repos/{owner}/{repo}': (_s, c) => ({
    status: 200,
    body: {
      id: 1,
      name: c.params.repo,
      full_name: c.repo,
      owner: { login: c.params.owner },
      default_branch: 'main',
      private: false,
    },
  }),
  'POST /repos/{owner}/{repo}/check-runs': (s, c) => {
    if (c.installationId === undefined)
      return { status: 403, body: { message: 'You must authenticate via a GitHub App.' } };
    const run = {
      id: s.nextId++,
      repo: c.repo,
      name: c.body.name,
      head_sha: c.body.head_sha,
      status: 'queued',
      conclusion: null,
      details_url: null,
      output: { title: null, summary: null, text: null },
      annotations: [],
    };
    applyCheckRun(run, c.body);
    s.checkRuns.push(run);
    return { status: 201, body: checkRunJson(run, c.baseUrl) };
  },
  'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}': (s, c) => {
    const run = s.checkRuns.find((r) => r.id === Number(c.params.check_run_id) && r.repo === c.repo);
    if (!run) return notFound;
    applyCheckRun(run, c.body);
    return { status: 200, body: checkRunJson(run, c.baseUrl) };
  },
  'POST /repos/{owner}/{repo}/statuses/{sha}': (s, c) => {
    const status = {
      id: s.nextId++,
      repo: c.repo,
      sha: c.params.sha,
      state: c.body.state,
      context: c.body.context ?? 'default',
      description: c.body.description ?? null,
      target_url: c.body.target_url ?? null,
    };
    s.statuses.push(status);
    return { status: 201, body: status };
  },
  'GET /repos/{owner}/{repo}/issues/{issue_number}/comments': (s, c) =>
    page(
      s.comments
        .filter((x) => x.repo === c.repo && x.issue_number === Number(c.params.issue_number))
        .map((x) => commentJson(x, c.baseUrl)),
      c,
      `/repos/${c.repo}/issues/${c.params.issue_number}/comments`,
    ),
  'POST /repos/{owner}/{repo}/issues/{issue_number}/comments': (s, c) => {
    const comment = {
      id: s.nextId++,
      repo: c.repo,
      issue_number: Number(c.params.issue_number),
      body: c.body.body,
      user: 'politburo[bot]',
      reactions: [],
    };
    s.comments.push(comment);
    return { status: 201, body: commentJson(comment, c.baseUrl) };
  },
  'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}': (s, c) => {
    const comment = s.comments.find((x) => x.id === Number(c.params.comment_id) && x.repo === c.repo);
    if (!comment) return notFound;
    comment.body = c.body.body;
    return { status: 200, body: commentJson(comment, c.baseUrl) };
  },
  'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions': (s, c) => {
    const comment = s.comments.find((x) => x.id === Number(c.params.comment_id) && x.repo === c.repo);
    if (!comment) return notFound;
    const existed = comment.reactions.includes(c.body.content);
    if (!existed) comment.reactions.push(c.body.content);
    return { status: existed ? 200 : 201, body: { id: s.nextId++, content: c.body.content } };
  },
  'GET /repos/{owner}/{repo}/issues': (s, c) => {
    const state = c.query.get('state') ?? 'open';
    const labels = (c.query.get('labels') ?? '').split(',').filter(Boolean);
    const found = s.issues.filter(
      (i) =>
        i.repo === c.repo &&
        !i.pull_request &&
        (state === 'all' || i.state === state) &&
        labels.every((l) => i.labels.includes(l)),
    );
    return page(
      found.map((i) => issueJson(i, c.baseUrl)),
      c,
      `/repos/${c.repo}/issues`,
    );
  },
  'POST /repos/{owner}/{repo}/issues': (s, c) => {
    const labels: string[] = (c.body.labels ?? []).map((l: string | { name: string }) =>
      typeof l === 'string' ? l : l.name,
    );
    const known = s.labels.get(c.repo) ?? [];
    for (const l of labels)
      if (!known.some((k) => k.name === l)) known.push({ id: s.nextId++, name: l, color: 'ededed', description: null });
    s.labels.set(c.repo, known);
    const issue = {
      id: s.nextId++,
      repo: c.repo,
      number: nextIssueNumber(s, c.repo),
      title: String(c.body.title),
      body: c.body.body ?? '',
      state: 'open' as const,
      state_reason: null,
      labels,
    };
    s.issues.push(issue);
    return { status: 201, body: issueJson(issue, c.baseUrl) };
  },
  'GET /repos/{owner}/{repo}/issues/{issue_number}': (s, c) => {
    const issue = s.issues.find((i) => i.repo === c.repo && i.number === Number(c.params.issue_number));
    return issue ? { status: 200, body: issueJson(issue, c.baseUrl) } : notFound;
  },
  'PATCH /repos/{owner}/{repo}/issues/{issue_number}': (s, c) => {
    const issue = s.issues.find((i) => i.repo === c.repo && i.number === Number(c.params.issue_number));
    if (!issue) return notFound;
    if (c.body.title != null) issue.title = String(c.body.title);
    if (c.body.body != null) issue.body = c.body.body;
    if (c.body.state) issue.state = c.body.state;
    if (c.body.state_reason !== undefined) issue.state_reason = c.body.state_reason;
    if (c.body.labels)
      issue.labels = c.body.labels.map((l: string | { name: string }) => (typeof l === 'string' ? l : l.name));
    return { status: 200, body: issueJson(issue, c.baseUrl) };
  },
  'GET /repos/{owner}/{repo}/labels/{name}': (s, c) => {
    const label = (s.labels.get(c.repo) ?? []).find((l) => l.name.toLowerCase() === c.params.name.toLowerCase());
    return label ? { status: 200, body: label } : notFound;
  },
  'POST /repos/{owner}/{repo}/labels': (s, c) => {
    const labels = s.labels.get(c.repo) ?? [];
    if (labels.some((l) => l.name.toLowerCase() === String(c.body.name).toLowerCase())) {
      return {
        status: 422,
        body: { message: 'Validation Failed', errors: [{ resource: 'Label', code: 'already_exists', field: 'name' }] },
      };
    }
    const label = {
      id: s.nextId++,
      name: c.body.name,
      color: c.body.color ?? 'ededed',
      description: c.body.description ?? null,
    };
    labels.push(label);
    s.labels.set(c.repo, labels);
    return { status: 201, body: label };
  },
  'GET /repos/{owner}/{repo}/collaborators/{username}/permission': (s, c) => {
    const permission: Permission = s.permissions.get(`${c.repo}:${c.params.username}`) ?? 'read';
    // GitHub's `permission` field only knows admin/write/read/none; maintain and triage appear in role_name.
    const legacy = permission === 'maintain' ? 'write' : permission === 'triage' ? 'read' : permission;
    return { status: 200, body: { permission: legacy, role_name: permission, user: { login: c.params.username } } };
  },
  'POST /repos/{owner}/{repo}/commits/{commit_sha}/comments': (s, c) => {
    const comment = {
      id: s.nextId++,
      repo: c.repo,
      commit_id: c.params.commit_sha,
      body: c.body.body,
      user: 'politburo[bot]',
    };
    s.commitComments.push(comment);
    return {
      status: 201,
      body: {
        ...comment,
        user: { login: comment.user },
        url: `${c.baseUrl}/repos/${c.repo}/comments/${comment.id}`,
        html_url: `https://github.com/${c.repo}/commit/${comment.commit_id}#commitcomment-${comment.id}`,
      },
    };
  },
  'GET /repos/{owner}/{repo}/pulls/{pull_number}': (s, c) => {
    const pull = s.pulls.find((p) => p.repo === c.repo && p.number === Number(c.params.pull_number));
    if (!pull) return notFound;
    const mergeableState = pull.mergeable_state ?? 'clean';
    return {
      status: 200,
      body: {
        url: `${c.baseUrl}/repos/${c.repo}/pulls/${pull.number}`,
        number: pull.number,
        state: pull.merged ? 'closed' : (pull.state ?? 'open'),
        merged: pull.merged,
        merge_commit_sha: pull.merge_commit_sha,
        mergeable: mergeableState === 'unknown' ? null : mergeableState !== 'dirty',
        mergeable_state: mergeableState,
        head: { sha: pull.head_sha, ref: pull.head_ref ?? 'feature', repo: { full_name: pull.head_repo ?? c.repo } },
        base: { sha: pull.base_sha, ref: pull.base_ref ?? 'main', repo: { full_name: c.repo } },
      },
    };
  },
  'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews': (s, c) => {
    const pull = s.pulls.find((p) => p.repo === c.repo && p.number === Number(c.params.pull_number));
    if (!pull) return notFound;
    return page(
      (pull.reviews ?? []).map((r, i) => ({
        id: i + 1,
        user: { login: r.user },
        state: r.state,
        commit_id: r.commit_id ?? pull.head_sha,
        submitted_at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      })),
      c,
      `/repos/${c.repo}/pulls/${pull.number}/reviews`,
    );
  },
  'GET /repos/{owner}/{repo}/deployments': (s, c) => {
    const q = (name: string) => c.query.get(name);
    const found = s.deployments
      .filter(
        (d) =>
          d.repo === c.repo &&
          (!q('sha') || d.sha === q('sha')) &&
          (!q('ref') || d.ref === q('ref')) &&
          (!q('task') || d.task === q('task')) &&
          (!q('environment') || d.environment === q('environment')),
      )
      .reverse(); // newest first, as GitHub lists them
    return page(
      found.map((d) => deploymentJson(d, c.baseUrl)),
      c,
      `/repos/${c.repo}/deployments`,
    );
  },
  'POST /repos/{owner}/{repo}/deployments': (s, c) => {
    const ref = String(c.body.ref);
    // The fake's commits are named by SHA: a ref that is no SHA (a branch or tag) is not resolved.
    if (!/^[0-9a-f]{40}$/.test(ref)) return { status: 422, body: { message: `No ref found for: ${ref}` } };
    const unmet = unmetContexts(s, c.repo, ref, c.body.required_contexts);
    if (unmet.length)
      return {
        status: 409,
        body: {
          message: `Conflict: Commit status checks failed for ${ref}.`,
          errors: unmet.map((context) => ({ contexts: [{ context, state: 'pending' }], resource: 'Deployment' })),
        },
      };
    const environment = c.body.environment ?? 'production';
    const deployment: FakeDeployment = {
      id: s.nextId++,
      repo: c.repo,
      sha: ref,
      ref,
      task: c.body.task ?? 'deploy',
      environment,
      description: c.body.description ?? '',
      payload: c.body.payload ?? {},
      transient_environment: c.body.transient_environment ?? false,
      production_environment: c.body.production_environment ?? environment === 'production',
      created_at: new Date().toISOString(),
      statuses: [],
    };
    s.deployments.push(deployment);
    return { status: 201, body: deploymentJson(deployment, c.baseUrl) };
  },
  'GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses': (s, c) => {
    const d = s.deployments.find((x) => x.repo === c.repo && x.id === Number(c.params.deployment_id));
    if (!d) return notFound;
    return page(
      [...d.statuses].reverse().map((st) => deploymentStatusJson(d, st, c.baseUrl)),
      c,
      `/repos/${c.repo}/deployments/${d.id}/statuses`,
    );
  },
  'POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses': (s, c) => {
    const d = s.deployments.find((x) => x.repo === c.repo && x.id === Number(c.params.deployment_id));
    if (!d) return notFound;
    const description = c.body.description ?? '';
    if (description.length > 140)
      return {
        status: 422,
        body: {
          message: 'Validation Failed',
          errors: [{ message: 'description is too long (maximum is 140 characters)' }],
        },
      };
    const at = new Date().toISOString();
    const status: FakeDeploymentStatus = {
      id: s.nextId++,
      state: c.body.state,
      description,
      environment: c.body.environment ?? d.environment,
      log_url: c.body.log_url ?? c.body.target_url ?? '',
      environment_url: c.body.environment_url ?? '',
      created_at: at,
    };
    d.statuses.push(status);
    // auto_inactive (default true): earlier successful non-transient, non-production deployments of the environment.
    if (status.state === 'success' && c.body.auto_inactive !== false)
      for (const other of s.deployments)
        if (
          other !== d &&
          other.repo === d.repo &&
          other.environment === d.environment &&
          !other.transient_environment &&
          !other.production_environment &&
          other.statuses.at(-1)?.state === 'success'
        )
          other.statuses.push({ ...other.statuses.at(-1)!, id: s.nextId++, state: 'inactive', created_at: at });
    return { status: 201, body: deploymentStatusJson(d, status, c.baseUrl) };
  },
  'GET /installation/repositories': (_s, c) => ({
    status: 200,
    body: { total_count: 0, repositories: [], installation: c.installationId },
  }),
};
