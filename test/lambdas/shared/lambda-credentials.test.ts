import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '../../../lambdas/shared/lambda-credentials.js';

const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
];

afterEach(() => {
  vi.unstubAllEnvs();
});

const withoutCredentials = () => {
  for (const name of CREDENTIAL_ENV) vi.stubEnv(name, undefined);
};

describe('the handlers’ credential provider (in place of the default chain)', () => {
  it('takes the execution role’s credentials from the environment, as Lambda gives them', async () => {
    // Prepare
    withoutCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDFROMTHEENVIRONMENT');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token');

    // Act
    const credentials = await defaultProvider()();

    // Assess
    expect(credentials).toMatchObject({
      accessKeyId: 'AKIDFROMTHEENVIRONMENT',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  it('falls back to the container credentials endpoint', async () => {
    // Prepare
    withoutCredentials();
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          AccessKeyId: 'AKIDFROMTHECONTAINER',
          SecretAccessKey: 'secret',
          Token: 'token',
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', () => listening()));
    vi.stubEnv(
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`,
    );

    // Act
    const credentials = await defaultProvider()().finally(() => server.close());

    // Assess
    expect(credentials.accessKeyId).toBe('AKIDFROMTHECONTAINER');
  });

  it('fails when neither gives credentials (no profile, SSO or instance metadata is tried)', async () => {
    // Prepare
    withoutCredentials();
    vi.stubEnv('AWS_PROFILE', 'some-profile');

    // Act
    const act = defaultProvider()();

    // Assess
    await expect(act).rejects.toThrow();
  });
});
