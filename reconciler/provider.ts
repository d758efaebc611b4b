/**
 * On-demand hosts through a provider's exec scripts (docs/language.md): `create` reads `{environment, resource,
 * params}` as
 * JSON on stdin and prints `{address, port?, user?, host_key?}`; `destroy` reads the same plus `address`. Scripts run
 * from the repository root, with a timeout, and only on apply.
 */
import { spawnWithLifeline } from '../kernel/lifeline.js';
import { quoteShell } from '../kernel/quote-shell.js';
import { insidePathMessage, realRoot, resolveInside } from '../kernel/repository-paths.js';
import { PolitburoError, type ProviderSpec } from '../kernel/types.js';

export interface ProvidedHost {
  address: string;
  port?: number;
  user?: string;
  /**
   * `TYPE BASE64` (or a whole known_hosts line): recorded with the node and trusted for its host on every later run.
   */
  hostKey?: string;
}

export interface ProviderCall {
  root: string;
  provider: ProviderSpec;
  environment: string;
  resource: string;
  params: Record<string, unknown>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** Runs the provider's `create` for one node; throws PolitburoError(ProvisionFailed) with the stderr tail. */
export async function providerCreate(call: ProviderCall): Promise<ProvidedHost> {
  const input = { environment: call.environment, resource: call.resource, params: call.params };
  const stdout = await runScript(call, call.provider.create, input);
  let out: unknown;
  try {
    out = JSON.parse(stdout);
  } catch {
    throw new PolitburoError(
      'ProvisionFailed',
      `provider create (${call.provider.create}) for ${call.resource} printed no JSON: ${tail(stdout) || '(nothing)'}`,
    );
  }
  return checkCreated(out, call);
}

/** Runs the provider's `destroy` for one node at `address`. */
export async function providerDestroy(call: ProviderCall & { address: string }): Promise<void> {
  const input = { environment: call.environment, resource: call.resource, params: call.params, address: call.address };
  await runScript(call, call.provider.destroy, input);
}

/** The known_hosts line for a provided host key (`[address]:port key` unless the port is 22). */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
  const key = hostKey.trim();
  if (/^(ssh-|ecdsa-|sk-)/.test(key)) return `${port === 22 ? address : `[${address}]:${port}`} ${key}`;
  return key; // already a whole line
}

function checkCreated(out: unknown, call: ProviderCall): ProvidedHost {
  const o = out as Record<string, unknown>;
  const bad = (what: string) =>
    new PolitburoError('ProvisionFailed', `provider create (${call.provider.create}) for ${call.resource}: ${what}`);
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw bad('expected a JSON object {address, port?, user?, host_key?}');
  if (typeof o.address !== 'string' || !o.address.trim()) throw bad('"address" must be a non-empty string');
  if (o.port !== undefined && (!Number.isInteger(o.port) || (o.port as number) < 1 || (o.port as number) > 65535))
    throw bad('"port" must be an integer 1-65535');
  if (o.user !== undefined && (typeof o.user !== 'string' || !o.user)) throw bad('"user" must be a non-empty string');
  if (o.host_key !== undefined && typeof o.host_key !== 'string') throw bad('"host_key" must be a string');
  // One key, one known_hosts line: a newline would smuggle in trust for other hosts, and the key is recorded.
  if (typeof o.host_key === 'string' && /[\r\n]/.test(o.host_key.trim()))
    throw bad('"host_key" must be one line (`TYPE BASE64`)');
  if (/[\s,]/.test(o.address.trim())) throw bad('"address" must be one host name or address');
  return {
    address: o.address.trim(),
    port: o.port as number | undefined,
    user: o.user as string | undefined,
    hostKey: o.host_key as string | undefined,
  };
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a script of the repository with JSON on stdin; resolves to stdout, rejects with ProvisionFailed. */
async function runScript(call: ProviderCall, script: string, input: object): Promise<string> {
  const root = await realRoot(call.root);
  const found = await resolveInside(root, script);
  if (!found.ok) throw new PolitburoError('ProvisionFailed', insidePathMessage(`provider script '${script}'`, found));
  if (found.kind !== 'file')
    throw new PolitburoError('ProvisionFailed', `provider script '${script}' is not a regular file`);
  return spawnScript(call, script, found.real, root, input);
}

function spawnScript(call: ProviderCall, script: string, file: string, root: string, input: object): Promise<string> {
  const timeoutMs = call.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // Behind a lifeline, as tasks are: a script never outlives the run that started it, even after kill -9.
    const child = spawnWithLifeline(quoteShell(file), { cwd: root, name: 'politburo-provider' });
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (err: PolitburoError | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(stdout);
    };
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the script and whatever it started
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      kill();
      finish(
        new PolitburoError(
          'ProvisionFailed',
          `provider script ${script} for ${call.resource} did not finish within ${Math.round(timeoutMs / 1000)}s and was killed${stderr ? `: ${tail(stderr)}` : ''}`,
        ),
      );
    }, timeoutMs);
    const onAbort = () => {
      kill();
      finish(new PolitburoError('Interrupted', `provider script ${script} for ${call.resource} was interrupted`));
    };
    call.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) =>
      finish(new PolitburoError('ProvisionFailed', `provider script ${script} could not be run: ${err.message}`)),
    );
    child.on('close', (code) => {
      if (code === 0) finish(null);
      else
        finish(
          new PolitburoError(
            'ProvisionFailed',
            `provider script ${script} for ${call.resource} exited with status ${code}${stderr.trim() ? `: ${tail(stderr)}` : ''}`,
          ),
        );
    });
    child.stdin.on('error', () => undefined); // a script that ignores stdin
    child.stdin.end(JSON.stringify(input));
  });
}
