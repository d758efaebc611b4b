/**
 * The connection keeper's frames (hosts/keeper-protocol.ts) read back whatever way the socket splits them, a stream
 * that is not the protocol is refused, and the Node options a started keeper inherits (hosts/keeper-client.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, Frame, FrameReader, parseJson } from '../../../hosts/keeper-protocol.js';
import { keeperEnv, loaderArgs } from '../../../hosts/keeper-client.js';
import { optionsFromWire, optionsToWire, type WireOptions } from '../../../hosts/keeper-options.js';
import type { HostConnectorOptions } from '../../../hosts/connector-options.js';

const collect = () => {
  const frames: [number, number, string][] = [];
  const reader = new FrameReader((type, id, payload) => frames.push([type, id, payload.toString('utf8')]));
  return { frames, reader };
};

test('frames read back one byte at a time, several in one chunk, and with an empty payload', () => {
  const bytes = Buffer.concat([
    encodeFrame(Frame.Connect, 1, { target: 'a' }),
    encodeFrame(Frame.Stdout, 4294967295, Buffer.from('out\n')),
    encodeFrame(Frame.Eof, 7),
  ]);
  const expected = [
    [Frame.Connect, 1, '{"target":"a"}'],
    [Frame.Stdout, 4294967295, 'out\n'],
    [Frame.Eof, 7, ''],
  ];
  const whole = collect();
  whole.reader.push(bytes);
  assert.deepEqual(whole.frames, expected);
  const split = collect();
  for (const b of bytes) split.reader.push(Buffer.from([b]));
  assert.deepEqual(split.frames, expected);
  assert.deepEqual(parseJson(Buffer.from(whole.frames[0][2])), { target: 'a' });
});

test('a stream that is not the protocol is refused, not buffered without end', () => {
  const { reader } = collect();
  assert.throws(() => reader.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), /bad frame length/);
  const small = new FrameReader(() => undefined, 100);
  assert.throws(() => small.push(encodeFrame(Frame.Stdin, 1, Buffer.alloc(200))), /bad frame length 205/);
});

test("a started keeper keeps only the options that load code first (a TypeScript loader), not the caller's script", () => {
  assert.deepEqual(
    loaderArgs(['--import', 'tsx', '--input-type=module', '-e', 'console.log(1)', '--require=./a.cjs', '--inspect']),
    ['--import', 'tsx', '--require=./a.cjs'],
  );
  assert.deepEqual(loaderArgs(['--cpu-prof', '--loader', 'ts-node/esm']), ['--loader', 'ts-node/esm']);
});

test('connection options reach the keeper as they were: a key as bytes, Includes inside Host blocks, no callbacks', () => {
  const options: HostConnectorOptions = {
    privateKey: Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\n'),
    passphrase: 'p',
    knownHosts: ['[10.0.0.1]:22 ssh-ed25519 AAAA\n'],
    agent: '/run/agent.sock',
    sshConfig: [
      {
        text: 'Host web-*\n  Include web.conf\n',
        where: '~/.ssh/config',
        blockIncludes: new Map([['web.conf', [{ file: '/root/.ssh/web.conf', text: 'User deploy\n' }]]]),
      },
      { text: 'Host *\n  Port 2222\n', where: 'ssh/config', fromRepository: true },
    ],
    retries: 2,
    onWarning: () => undefined,
    persist: { dir: '/run/keeper', ms: 1000 },
  };
  const back = optionsFromWire(JSON.parse(JSON.stringify(optionsToWire(options))) as WireOptions);
  const { onWarning: _w, persist: _p, ...sent } = options;
  assert.deepEqual(back, sent);
  assert.ok(back.sshConfig?.[0].blockIncludes instanceof Map);
  assert.equal(optionsFromWire(optionsToWire({ knownHosts: [], privateKey: 'PEM' })).privateKey, 'PEM');
});

test("the keeper keeps the operator's variables (a ProxyCommand may need them), not Politburo's secrets", () => {
  const env = keeperEnv({
    PATH: '/usr/bin',
    HOME: '/home/ops',
    AWS_PROFILE: 'prod',
    SSH_AUTH_SOCK: '/run/agent',
    POLITBURO_SECRET_DB_PASSWORD: 'hunter2',
    POLITBURO_SSH_KEY_PASSPHRASE: 'p',
    DATABASE_URL: 'postgres://u:pw@db/politburo',
    GITHUB_TOKEN: 'ghp_x',
  });
  assert.deepEqual(env, { PATH: '/usr/bin', HOME: '/home/ops', AWS_PROFILE: 'prod', SSH_AUTH_SOCK: '/run/agent' });
});
