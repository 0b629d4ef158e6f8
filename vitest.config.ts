import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Clears the workflow coverage records, and checks them once every workflow test file ran.
    globalSetup: ['test/workflow/coverage-check.ts'],
    // The SDK's notice that its 2027 releases need Node 22 is noise in test output (the lock file pins the SDK).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
