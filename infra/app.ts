/**
 * The CDK app (`cdk.json` runs `node bin/cdk-app.mjs`, which runs this module compiled in dist/; `npx tsx
 * infra/app.ts` runs it from source). Configuration comes from CDK context (infra/config.ts);
 * `-c nag=true` runs the cdk-nag AwsSolutions checks during synth (the tests always run them).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from './config.js';
import { ancestorCommandLines, emulatorDeployProblem } from './emulator-deploy.js';
import { AmiBuilderStack } from './stack.js';

/** True for the context value `true` or the text "true" (`-c nag=true`). */
export function contextFlag(value: unknown): boolean {
  return value === true || value === 'true';
}

/** Builds the app: one stack, named by the `stackName` context (default `AmiBuilder`). */
export function createApp(app: App = new App()): { app: App; stack: AmiBuilderStack } {
  const config = loadConfig((key) => app.node.tryGetContext(key));
  const stack = new AmiBuilderStack(app, config.stackName, { config });
  if (contextFlag(app.node.tryGetContext('nag'))) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  }
  return { app, stack };
}

/** Synthesizes the app as the CDK CLI runs it (bin/cdk-app.mjs), refusing a plain deploy into the emulator. */
export function runApp(): void {
  const problem = emulatorDeployProblem(process.env.AWS_ENDPOINT_URL, ancestorCommandLines());
  if (problem !== undefined) {
    console.error(problem);
    process.exit(1);
  }
  createApp().app.synth();
}

// Synthesize when run as the CDK app, not when imported by tests.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runApp();
