/**
 * Synthesizes the stack for the infra tests: bundling skipped (`aws:cdk:bundling-stacks: []`), cdk-nag
 * AwsSolutions always on (through the app's `nag` context), configuration from context as `cdk synth -c` gives it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/app.js';
import { repoRoot } from '../../infra/config.js';
import { synthDefinition } from '../../infra/definition.js';
import type { AmiBuilderStack } from '../../infra/stack.js';

export interface AslState {
  Type: string;
  Comment?: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  OutputPath?: string;
  ResultSelector?: Record<string, unknown>;
  TimeoutSeconds?: number;
  Retry?: {
    ErrorEquals: string[];
    IntervalSeconds?: number;
    MaxAttempts?: number;
    BackoffRate?: number;
    JitterStrategy?: string;
  }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  Choices?: (Record<string, unknown> & { Next: string })[];
  Default?: string;
  SecondsPath?: string;
  ItemsPath?: string;
  ItemSelector?: Record<string, unknown>;
  MaxConcurrency?: number;
  ItemProcessor?: AslMachine;
  Branches?: AslMachine[];
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
  QueryLanguage?: string;
}

export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  QueryLanguage?: string;
}

export interface Synthesized {
  app: App;
  stack: AmiBuilderStack;
  template: Template;
  definition: AslMachine;
}

/** The context of a stack with every optional feature configured. */
export const FULL_CONTEXT = {
  stackName: 'ImageFactory',
  allowedBucketPatterns: ['ami-builder-*', 'team-amis'],
  extraInstanceProfiles: [
    { name: 'legacy-builder', roleArn: 'arn:aws:iam::123456789012:role/legacy-builder' },
  ],
  schedules: [
    {
      name: 'nightly',
      expression: 'cron(0 3 * * ? *)',
      timezone: 'Europe/Berlin',
      templateFile: 'test/infra/fixtures/nightly-template.json',
      vars: { release: 'nightly' },
    },
    { name: 'weekly', expression: 'rate(7 days)', templateFile: 'test/infra/fixtures/nightly-template.json' },
  ],
  logRetentionDays: 90,
  stagedObjectExpirationDays: 3,
  executionTimeoutHours: 12,
  notificationEmails: ['builds@example.com'],
  amiParameterPrefix: '/images/',
  x509ParameterPrefix: '/images/x509/',
  adoptForeignImages: true,
  logLevel: 'DEBUG',
};

/** The feature flags and defaults `cdk synth` gives the app (cdk.json's `context`). */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }
).context;

/** Synthesizes the app as `cdk synth` does, with the given context (plus `nag: true` and no bundling). */
export function synth(context: Record<string, unknown> = {}): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], nag: true, ...context },
  });
  const { stack } = createApp(app);
  const template = Template.fromStack(stack);
  const definition = synthDefinition(stack).definition as unknown as AslMachine;
  return { app, stack, template, definition };
}

/** Every state of the definition, Map iterations and Parallel branches included, with where it lives. */
export function allStates(
  machine: AslMachine,
  parent = '',
): { name: string; state: AslState; parent: string }[] {
  const out: { name: string; state: AslState; parent: string }[] = [];
  for (const [name, state] of Object.entries(machine.States)) {
    out.push({ name, state, parent });
    if (state.ItemProcessor !== undefined) out.push(...allStates(state.ItemProcessor, name));
    for (const branch of state.Branches ?? []) out.push(...allStates(branch, name));
  }
  return out;
}

/**
 * The success path in execution order: from StartAt along Next; a Choice continues with its first rule (the
 * "done"/"yes" branch); a Map or Parallel contributes its name and then, nested, each iteration's/branch's path.
 */
export type PathEntry = string | { [state: string]: PathEntry[] | PathEntry[][] };

export function successPath(machine: AslMachine): PathEntry[] {
  const path: PathEntry[] = [];
  const seen = new Set<string>();
  let name: string | undefined = machine.StartAt;
  while (name !== undefined && !seen.has(name)) {
    seen.add(name);
    const state: AslState | undefined = machine.States[name];
    if (state === undefined) throw new Error(`state ${name} does not exist`);
    if (state.ItemProcessor !== undefined) path.push({ [name]: successPath(state.ItemProcessor) });
    else if (state.Branches !== undefined) path.push({ [name]: state.Branches.map(successPath) });
    else path.push(name);
    name = state.Type === 'Choice' ? state.Choices?.[0]?.Next : state.Next;
  }
  return path;
}
