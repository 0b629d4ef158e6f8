/**
 * Each in-process task reads its own credential variables from `process.env` (cli/local/task-roles.ts), and
 * `process.env` stays writable for everything else, as the runner's restoring of the emulator settings needs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type TaskCredentials, withTaskCredentials } from '../../cli/local/task-roles.js';
import { useEmulatorEnvironment } from '../../emulator/index.js';

const TASK: TaskCredentials = {
  accessKeyId: 'AKIATASKCREDENTIALS1',
  secretAccessKey: 'task-secret-access-key',
  sessionToken: 'task-session-token',
  roleArn: 'arn:aws:iam::123456789012:role/task',
};

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

describe('task credentials', () => {
  it('scopes the credential variables to the task and leaves process.env writable', () => {
    // Prepare
    process.env.AWS_ACCESS_KEY_ID = 'AKIACALLERCREDENTIAL';
    process.env.AWS_SESSION_TOKEN = 'caller-session-token';

    // Act
    const inside = withTaskCredentials(TASK, () => ({
      key: process.env.AWS_ACCESS_KEY_ID,
      token: process.env.AWS_SESSION_TOKEN,
      expiration: process.env.AWS_CREDENTIAL_EXPIRATION,
    }));
    const restore = useEmulatorEnvironment('http://127.0.0.1:1');
    const during = process.env.AWS_ACCESS_KEY_ID;
    restore();

    // Assess
    expect(inside.key).toBe(TASK.accessKeyId);
    expect(inside.token).toBe(TASK.sessionToken);
    expect(inside.expiration).toBeDefined();
    expect(during).toBe('testing');
    expect(process.env.AWS_ACCESS_KEY_ID).toBe('AKIACALLERCREDENTIAL');
    expect(process.env.AWS_SESSION_TOKEN).toBe('caller-session-token');
    expect(process.env.AWS_CREDENTIAL_EXPIRATION).toBeUndefined();
  });
});
