/**
 * known_hosts files as OpenSSH reads them: plain and hashed (`|1|salt|hash`) host fields, comma-separated patterns with
 * `*`/`?` wildcards and `!` negation, `[host]:port` for non-standard ports, `@revoked` and `@cert-authority` markers.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { insidePathMessage, realRoot, resolveInside } from '../kernel/repository-paths.js';
import { PolitburoError } from '../kernel/types.js';

export interface KnownHostEntry {
  /**
   * `revoked` keys are refused for every host the line names (a host key, a certified key or a CA key);
   * `cert-authority` lines are not host keys but the CAs whose host certificates are trusted (hosts/host-certificate.ts).
   */
  marker: 'revoked' | 'cert-authority' | null;
  /** Host patterns of a plain entry (lower-cased); null for a hashed entry. */
  patterns: string[] | null;
  hashed: { salt: Buffer; hash: Buffer } | null;
  keyType: string;
  key: Buffer;
  /** `FILE:LINE`, for messages. */
  where: string;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  /** Lines that could not be read (`FILE:LINE: why`); they are skipped, never fatal. */
  errors: string[];
}

export type HostKeyVerdict = 'ok' | 'unknown' | 'mismatch';

/**
 * Reads the known_hosts file an environment names, relative to the repository at `root`. Symlinks are resolved and a
 * file outside the repository is refused (InvalidSpec) without being read: a repository must not be able to make a
 * file of the controller its trust anchor (docs/language.md, "Files the description names").
 */
export async function readRepositoryKnownHosts(root: string, name: string): Promise<string> {
  return readRepositoryFile(root, name, 'known_hosts file');
}

/** Reads a file the description names (`what`, e.g. `ssh_config file`), refusing one outside the repository. */
export async function readRepositoryFile(root: string, name: string, what: string): Promise<string> {
  const found = await resolveInside(await realRoot(root), name);
  if (!found.ok) throw new PolitburoError('InvalidSpec', insidePathMessage(`${what} '${name}'`, found));
  if (found.kind !== 'file') throw new PolitburoError('InvalidSpec', `${what} '${name}' is not a regular file`);
  return readFile(found.real, 'utf8');
}

/** Parses known_hosts content; malformed lines are reported in `errors` and skipped. */
export function parseKnownHosts(content: string, file = 'known_hosts'): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const errors: string[] = [];
  content.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parsed = parseLine(line, where);
    if (typeof parsed === 'string') errors.push(`${where}: ${parsed}`);
    else entries.push(parsed);
  });
  return { entries, errors };
}

function parseLine(line: string, where: string): KnownHostEntry | string {
  const fields = line.split(/\s+/);
  let marker: KnownHostEntry['marker'] = null;
  if (fields[0].startsWith('@')) {
    const m = fields.shift()!;
    if (m === '@revoked') marker = 'revoked';
    else if (m === '@cert-authority') marker = 'cert-authority';
    else return `unknown marker ${m} (expected @revoked or @cert-authority)`;
  }
  const [hosts, keyType, keyText] = fields;
  if (!hosts || !keyType || !keyText) return 'expected "HOSTS KEYTYPE BASE64KEY"';
  const key = decodeBase64(keyText);
  if (!key || key.length < 8) return `the key of type ${keyType} is not valid base64`;
  const embedded = keyTypeOf(key);
  if (embedded !== keyType) return `the key says it is ${embedded ?? 'unreadable'} but the line says ${keyType}`;
  if (hosts.startsWith('|')) {
    const hashed = parseHashed(hosts);
    if (!hashed) return 'hashed host field is not |1|SALT|HASH';
    return { marker, patterns: null, hashed, keyType, key, where };
  }
  return { marker, patterns: hosts.toLowerCase().split(',').filter(Boolean), hashed: null, keyType, key, where };
}

function parseHashed(field: string): { salt: Buffer; hash: Buffer } | null {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return null;
  const salt = decodeBase64(parts[2]);
  const hash = decodeBase64(parts[3]);
  if (!salt || !hash || salt.length !== 20 || hash.length !== 20) return null;
  return { salt, hash };
}

function decodeBase64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

/** The key type named inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...), or null if unreadable. */
export function keyTypeOf(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

/** Whether an entry names `host:port` (negated patterns win, as in OpenSSH). */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hashed) {
    const mac = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return timingSafeEqual(mac, entry.hashed.hash);
  }
  let matched = false;
  for (const p of entry.patterns!) {
    const negated = p.startsWith('!');
    if (wildcardMatch(negated ? p.slice(1) : p, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function wildcardMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/**
 * Checks a host's key against known_hosts entries: `ok` when a line for the host has this key, `mismatch` when lines
 * for the host have another key of the same type (or this key is `@revoked`), `unknown` otherwise.
 */
export function verifyHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
): HostKeyVerdict {
  const forHost = candidates(entries, host, port).filter(
    (e) => e.marker !== 'cert-authority' && entryMatches(e, host, port),
  );
  if (forHost.some((e) => e.marker === 'revoked' && e.key.equals(keyBlob))) return 'mismatch';
  const plain = forHost.filter((e) => e.marker === null);
  if (plain.some((e) => e.key.equals(keyBlob))) return 'ok';
  if (plain.some((e) => e.keyType === keyType)) return 'mismatch';
  return 'unknown';
}

/** The `@cert-authority` lines that name a host: the CAs whose host certificates it may present. */
export function certAuthorities(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  return candidates(entries, host, port).filter((e) => e.marker === 'cert-authority' && entryMatches(e, host, port));
}

/** The `@revoked` line for a host that names this key blob (a host key, a certified key or a CA key), if any. */
export function revokedEntry(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  keyBlob: Buffer,
): KnownHostEntry | undefined {
  return candidates(entries, host, port).find(
    (e) => e.marker === 'revoked' && e.key.equals(keyBlob) && entryMatches(e, host, port),
  );
}

/** Key types known for a host, so the connection can prefer them (as OpenSSH does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types = candidates(entries, host, port)
    .filter((e) => e.marker === null && entryMatches(e, host, port))
    .map((e) => e.keyType);
  return [...new Set(types)];
}

/**
 * Entries that may name a host, without scanning every line for every connection: plain lines whose patterns are
 * all literal names are indexed by name; hashed lines and lines with wildcards or negations are always candidates.
 * The index follows the array (a line appended by accept-new rebuilds it).
 */
interface EntryIndex {
  length: number;
  byName: Map<string, KnownHostEntry[]>;
  always: KnownHostEntry[];
}
const indexes = new WeakMap<KnownHostEntry[], EntryIndex>();

function candidates(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  let index = indexes.get(entries);
  if (!index || index.length !== entries.length) {
    index = { length: entries.length, byName: new Map(), always: [] };
    for (const e of entries) {
      if (!e.patterns || e.patterns.some((p) => p.startsWith('!') || /[*?]/.test(p))) {
        index.always.push(e);
        continue;
      }
      for (const p of new Set(e.patterns)) {
        const list = index.byName.get(p);
        if (list) list.push(e);
        else index.byName.set(p, [e]);
      }
    }
    indexes.set(entries, index);
  }
  const named = index.byName.get(knownHostsName(host, port));
  return named ? [...named, ...index.always] : index.always;
}
