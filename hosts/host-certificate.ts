/**
 * OpenSSH host certificates (the `*-cert-v01@openssh.com` key types of PROTOCOL.certkeys), checked as OpenSSH's ssh
 * checks them against the `@cert-authority` lines of known_hosts (docs/cli.md, "Host certificates"): the certificate's
 * signature by the CA key it names, that CA on a `@cert-authority` line for the host, neither the CA key nor the
 * certified key `@revoked`, a host (not user) certificate, valid now, the looked-up name (HostName or HostKeyAlias)
 * among its principals, no critical option, a CA signature algorithm OpenSSH accepts by default.
 *
 * sshpk turns the CA's key and signature into what node:crypto verifies. Its certificate parser is not used: in sshpk
 * 1.18 `Certificate.isSignedByKey` of an OpenSSH certificate only compares the CA key the certificate names (the
 * signature is never checked), a certificate valid "forever" reads as expired, and an empty principal list reads as
 * `*`. The certificate's fields are read here instead: a fixed sequence of SSH strings and integers.
 */
import { createPublicKey, verify } from 'node:crypto';
import sshpk from 'sshpk';
import { fingerprint, type KnownHostEntry } from './known-hosts.js';

/** The host certificate algorithms Politburo negotiates, in OpenSSH's order of preference. */
export const HOST_CERTIFICATE_ALGORITHMS = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
  'rsa-sha2-256-cert-v01@openssh.com',
];

/** Certificate key types: the plain type of the certified key and how many SSH strings its public part has. */
const CERTIFIED: Record<string, { plain: string; fields: number }> = {
  'ssh-ed25519-cert-v01@openssh.com': { plain: 'ssh-ed25519', fields: 1 },
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp256', fields: 2 },
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp384', fields: 2 },
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp521', fields: 2 },
  'ssh-rsa-cert-v01@openssh.com': { plain: 'ssh-rsa', fields: 2 },
};

/**
 * Signature algorithms OpenSSH accepts from a CA by default (CASignatureAlgorithms), by the CA key's type: not `ssh-rsa`
 * (SHA-1).
 */
const CA_SIGNATURES: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
};

const SSHPK_TYPES: Record<string, sshpk.AlgorithmType> = {
  'ssh-ed25519': 'ed25519',
  'ecdsa-sha2-nistp256': 'ecdsa',
  'ecdsa-sha2-nistp384': 'ecdsa',
  'ecdsa-sha2-nistp521': 'ecdsa',
  'ssh-rsa': 'rsa',
};

const FOREVER = 0xffffffffffffffffn;

/** Whether an SSH key type (the name inside a key blob) is a certificate Politburo can check. */
export function isCertificateKeyType(keyType: string): boolean {
  return keyType in CERTIFIED;
}

export interface HostCertificate {
  /** `ssh-ed25519-cert-v01@openssh.com`, ... (the type inside the blob). */
  type: string;
  /** The certified key as a plain public key blob, and its type. */
  key: Buffer;
  keyType: string;
  serial: bigint;
  /** 1 user, 2 host. */
  certType: number;
  keyId: string;
  principals: string[];
  /** Seconds since the epoch; validBefore is 2^64-1 for "forever". */
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: string[];
  /** The CA's public key blob and type. */
  caKey: Buffer;
  caKeyType: string;
  /** The signature's algorithm and blob, and the bytes the CA signed (everything before the signature). */
  signatureAlgorithm: string;
  signature: Buffer;
  signed: Buffer;
}

/** Reads the certificate blob a host presented (K_S); throws an Error saying what is malformed. */
export function parseHostCertificate(blob: Buffer): HostCertificate {
  const r = new WireReader(blob);
  const type = r.text();
  const certified = CERTIFIED[type];
  if (!certified) throw new Error(`${type} is not a certificate type Politburo can check`);
  r.string(); // nonce
  const keyStart = r.pos;
  for (let i = 0; i < certified.fields; i++) r.string();
  const key = Buffer.concat([sshString(Buffer.from(certified.plain)), blob.subarray(keyStart, r.pos)]);
  const serial = r.uint64();
  const certType = r.uint32();
  const keyId = r.text();
  const principals = strings(r.string());
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  const criticalOptions = strings(r.string(), true);
  r.string(); // extensions: none concerns a host certificate
  r.string(); // reserved
  const caKey = r.string();
  const signedEnd = r.pos;
  const signature = r.string();
  if (!r.atEnd()) throw new Error('trailing bytes after the signature');
  return {
    type,
    key,
    keyType: certified.plain,
    serial,
    certType,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    caKey,
    caKeyType: new WireReader(caKey).text(),
    signatureAlgorithm: new WireReader(signature).text(),
    signature,
    signed: blob.subarray(0, signedEnd),
  };
}

export type CertificateCheck =
  /** Signed by the CA of `authority`, valid for the host. */
  | { result: 'trusted'; cert: HostCertificate; authority: KnownHostEntry }
  /** Refused: `reason` is the PolitburoError reason, `message` says what and where. */
  | { result: 'refused'; reason: 'HostKeyMismatch' | 'HostKeyUnknown'; message: string; cert?: HostCertificate }
  /**
   * Correctly signed, but by a CA no `@cert-authority` line for the host names: as OpenSSH does, the certified key is
   * then checked as a plain host key. `message` says which CA signed it and which ones are trusted.
   */
  | { result: 'untrusted-ca'; cert: HostCertificate; message: string };

export interface CertificateLookup {
  /** The name known_hosts is searched under, and that must be among the principals (HostName or HostKeyAlias). */
  host: string;
  port: number;
  /** `authorities`: the `@cert-authority` lines for the host; `revoked(blob)`: the `@revoked` line for a key. */
  authorities: KnownHostEntry[];
  revoked(blob: Buffer): KnownHostEntry | undefined;
}

/** Checks a host certificate as OpenSSH does (see the top of this file); `now` in milliseconds. */
export function checkHostCertificate(blob: Buffer, lookup: CertificateLookup, now = Date.now()): CertificateCheck {
  let cert: HostCertificate;
  try {
    cert = parseHostCertificate(blob);
  } catch (err) {
    return { result: 'refused', reason: 'HostKeyMismatch', message: `malformed host certificate: ${msg(err)}` };
  }
  const refuse = (reason: 'HostKeyMismatch' | 'HostKeyUnknown', message: string): CertificateCheck => ({
    result: 'refused',
    reason,
    message: `${describe(cert)} ${message}`,
    cert,
  });
  const ca = `CA ${cert.caKeyType} ${fingerprint(cert.caKey)}`;

  // OpenSSH checks the signature when it reads a certificate, before anything else.
  const allowed = CA_SIGNATURES[cert.caKeyType];
  if (!allowed) return refuse('HostKeyMismatch', `is signed by a ${cert.caKeyType} key, which cannot be a CA`);
  const signatureError = verifySignature(cert);
  if (signatureError) return refuse('HostKeyMismatch', `does not verify with the key of ${ca}: ${signatureError}`);

  const revokedCa = lookup.revoked(cert.caKey);
  if (revokedCa) return refuse('HostKeyMismatch', `is signed by ${ca}, which is @revoked (${revokedCa.where})`);
  const revokedKey = lookup.revoked(cert.key);
  if (revokedKey) {
    return refuse(
      'HostKeyMismatch',
      `certifies the key ${cert.keyType} ${fingerprint(cert.key)}, which is @revoked (${revokedKey.where})`,
    );
  }

  const authority = lookup.authorities.find((a) => a.key.equals(cert.caKey));
  if (!authority) {
    const trusted = lookup.authorities.map((a) => `${a.where} trusts ${a.keyType} ${fingerprint(a.key)}`);
    return {
      result: 'untrusted-ca',
      cert,
      message:
        `${describe(cert)} is signed by ${ca}, which no @cert-authority line for this host names` +
        (trusted.length ? ` (${trusted.join('; ')})` : ''),
    };
  }
  const where = `(@cert-authority, ${authority.where})`;

  if (!allowed.includes(cert.signatureAlgorithm)) {
    return refuse(
      'HostKeyUnknown',
      `is signed by ${ca} ${where} with ${cert.signatureAlgorithm}, which OpenSSH refuses by default; sign it again ` +
        `with ${allowed.join(' or ')} (ssh-keygen -t ${allowed[0]})`,
    );
  }
  if (cert.certType !== 2) {
    const kind = cert.certType === 1 ? 'a user certificate' : `of unknown type ${cert.certType}`;
    return refuse('HostKeyMismatch', `signed by ${ca} ${where} is ${kind}, not a host certificate`);
  }
  const seconds = BigInt(Math.floor(now / 1000));
  if (seconds < cert.validAfter) {
    return refuse(
      'HostKeyUnknown',
      `signed by ${ca} ${where} is not valid yet: valid from ${time(cert.validAfter)} (now ${time(seconds)})`,
    );
  }
  if (seconds >= cert.validBefore) {
    return refuse(
      'HostKeyUnknown',
      `signed by ${ca} ${where} expired at ${time(cert.validBefore)} (now ${time(seconds)}); the host needs a new ` +
        `certificate from its CA`,
    );
  }
  if (cert.principals.length === 0) {
    return refuse(
      'HostKeyUnknown',
      `signed by ${ca} ${where} lists no principals: refused, as OpenSSH does (it would be valid for every host); ` +
        `sign it with -n ${lookup.host}`,
    );
  }
  if (!cert.principals.includes(lookup.host)) {
    return refuse(
      'HostKeyUnknown',
      `signed by ${ca} ${where} is not valid for '${lookup.host}': its principals are ` +
        `${cert.principals.map((p) => `'${p}'`).join(', ')} (the host's HostName, or HostKeyAlias, must be one of them)`,
    );
  }
  if (cert.criticalOptions.length > 0) {
    return refuse(
      'HostKeyUnknown',
      `signed by ${ca} ${where} has critical options (${cert.criticalOptions.join(', ')}), which a host ` +
        `certificate may not have`,
    );
  }
  return { result: 'trusted', cert, authority };
}

/** `host certificate ssh-ed25519-cert-v01@openssh.com (ID "web1", serial 7)` */
export function describe(cert: HostCertificate): string {
  return `host certificate ${cert.type} (ID ${JSON.stringify(cert.keyId)}, serial ${cert.serial})`;
}

/** Why the CA's signature does not verify, or null when it does. */
function verifySignature(cert: HostCertificate): string | null {
  try {
    const caType = SSHPK_TYPES[cert.caKeyType];
    const key = createPublicKey(sshpk.parseKey(cert.caKey, 'rfc4253').toString('pkcs8'));
    const sig = sshpk.parseSignature(cert.signature, caType, 'ssh');
    const bytes = sig.toBuffer(caType === 'ecdsa' ? 'asn1' : 'raw');
    const hash = caType === 'ed25519' ? null : (sig.hashAlgorithm ?? null);
    return verify(hash, cert.signed, key, bytes) ? null : 'the signature is wrong (forged or corrupted)';
  } catch (err) {
    return `unreadable key or signature (${msg(err)})`;
  }
}

function time(seconds: bigint): string {
  if (seconds >= FOREVER) return 'forever';
  if (seconds > 8_640_000_000_000n) return `${seconds} seconds after 1970`; // beyond what a Date can show
  return new Date(Number(seconds) * 1000).toISOString().replace('.000Z', 'Z');
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** SSH wire format (RFC 4251 §5): uint32, uint64 and length-prefixed strings. */
class WireReader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  uint32(): number {
    if (this.pos + 4 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint64(): bigint {
    if (this.pos + 8 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  string(): Buffer {
    const len = this.uint32();
    if (this.pos + len > this.buf.length) throw new Error('truncated');
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  text(): string {
    return this.string().toString('utf8');
  }

  atEnd(): boolean {
    return this.pos === this.buf.length;
  }
}

/** The strings packed in `data` (principals), or the names of its name/value pairs (options). */
function strings(data: Buffer, pairs = false): string[] {
  const r = new WireReader(data);
  const out: string[] = [];
  while (!r.atEnd()) {
    out.push(r.text());
    if (pairs) r.string();
  }
  return out;
}
