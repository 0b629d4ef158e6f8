/**
 * Generates the docs that must match the code: docs/STATE-MACHINE.md (a Mermaid flowchart walked from the
 * synthesized definition, and a table of every state with what it does) and docs/IAM.md (every task's IAM
 * statements, from infra/permissions.ts). Run `npx tsx infra/diagram.ts` after changing the workflow or the
 * grants; a test fails while the committed files differ.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { parseConfig, repoRoot } from './config.js';
import { synthDefinition } from './definition.js';
import { type PermissionContext, type TaskGrant, taskGrants } from './permissions.js';
import { AmiBuilderStack } from './stack.js';
import { StateDescriptions, StateNames } from './state-names.js';
import { type TaskId, Tasks } from './tasks.js';

interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Comment?: string;
  Choices?: AslChoiceRule[];
  Default?: string;
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  Retry?: { ErrorEquals: string[] }[];
  Resource?: string;
  ItemProcessor?: AslMachine;
  Iterator?: AslMachine;
  Branches?: AslMachine[];
}

interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
}

type AslChoiceRule = Record<string, unknown> & { Next?: string };

const descriptionByName = new Map<string, string>(
  (Object.keys(StateNames) as (keyof typeof StateNames)[]).map((key) => [
    StateNames[key],
    StateDescriptions[key],
  ]),
);

/** A readable form of a Choice rule: `$.poll.agent.done == true and …`. */
export function describeCondition(rule: Record<string, unknown>): string {
  if (Array.isArray(rule.And))
    return (rule.And as Record<string, unknown>[]).map(describeCondition).join(' and ');
  if (Array.isArray(rule.Or))
    return (rule.Or as Record<string, unknown>[]).map(describeCondition).join(' or ');
  if (rule.Not !== undefined) return `not (${describeCondition(rule.Not as Record<string, unknown>)})`;
  const variable = String(rule.Variable);
  const operators: Record<string, string> = {
    BooleanEquals: '==',
    StringEquals: '==',
    NumericEquals: '==',
    NumericGreaterThan: '>',
    NumericLessThan: '<',
  };
  for (const [key, value] of Object.entries(rule)) {
    if (key === 'Variable' || key === 'Next') continue;
    if (key === 'IsPresent') return value === true ? `${variable} is present` : `${variable} is absent`;
    const op = operators[key] ?? key;
    return `${variable} ${op} ${JSON.stringify(value)}`;
  }
  return variable;
}

/** States in reading order: depth first along Next, then Choice branches, Default and Catch targets. */
export function statesInOrder(machine: AslMachine): string[] {
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name) || machine.States[name] === undefined) return;
    order.push(name);
    const state = machine.States[name];
    const targets = [
      state.Next,
      ...(state.Choices ?? []).map((c) => c.Next),
      state.Default,
      ...(state.Catch ?? []).map((c) => c.Next),
    ];
    for (const target of targets) if (target !== undefined) visit(target);
  };
  visit(machine.StartAt);
  return order;
}

const label = (text: string) => text.replace(/"/g, "'");

/** The definition as a Mermaid flowchart: Map and Parallel states are subgraphs, Catch edges are dotted. */
export function mermaidFlowchart(definition: AslMachine): string {
  const lines = ['flowchart TD'];
  const ids = new Map<string, string>();
  const id = (name: string) => {
    let value = ids.get(name);
    if (value === undefined) {
      value = `s${ids.size + 1}`;
      ids.set(name, value);
    }
    return value;
  };
  const node = (name: string, state: AslState): string => {
    const text = label(name);
    switch (state.Type) {
      case 'Choice':
        return `${id(name)}{"${text}"}`;
      case 'Wait':
        return `${id(name)}(["${text}"])`;
      case 'Succeed':
      case 'Fail':
        return `${id(name)}[["${text}"]]`;
      default:
        return `${id(name)}["${text}"]`;
    }
  };
  const edges: string[] = [];
  const render = (machine: AslMachine, indent: string) => {
    for (const name of statesInOrder(machine)) {
      const state = machine.States[name] as AslState;
      const inner = state.ItemProcessor ?? state.Iterator;
      if (inner !== undefined || state.Branches !== undefined) {
        lines.push(`${indent}subgraph ${id(name)} ["${label(name)} (${state.Type})"]`);
        if (inner !== undefined) render(inner, `${indent}  `);
        state.Branches?.forEach((branch, i) => {
          lines.push(`${indent}  subgraph ${id(name)}b${i + 1} ["branch ${i + 1}"]`);
          render(branch, `${indent}    `);
          lines.push(`${indent}  end`);
        });
        lines.push(`${indent}end`);
      } else {
        lines.push(`${indent}${node(name, state)}`);
      }
      if (state.Next !== undefined) edges.push(`${id(name)} --> ${id(state.Next)}`);
      for (const rule of state.Choices ?? []) {
        if (rule.Next !== undefined)
          edges.push(`${id(name)} -->|"${label(describeCondition(rule))}"| ${id(rule.Next)}`);
      }
      if (state.Default !== undefined) edges.push(`${id(name)} -->|otherwise| ${id(state.Default)}`);
      for (const c of state.Catch ?? []) {
        edges.push(`${id(name)} -.->|"${label(c.ErrorEquals.join(', '))}"| ${id(c.Next)}`);
      }
    }
  };
  lines.push(`  start(( )) --> ${id(definition.StartAt)}`);
  render(definition, '  ');
  return [...lines, ...edges.map((e) => `  ${e}`)].join('\n');
}

/** Every state with its type, where it lives and what it does. */
export function stateTable(definition: AslMachine): string {
  const rows = ['| State | Type | In | What it does |', '| --- | --- | --- | --- |'];
  const add = (machine: AslMachine, parent: string) => {
    for (const name of statesInOrder(machine)) {
      const state = machine.States[name] as AslState;
      const task = state.Resource?.split(':function:')[1];
      const type = task === undefined ? state.Type : `Task (${task})`;
      const what = descriptionByName.get(name) ?? state.Comment ?? '';
      rows.push(`| ${name} | ${type} | ${parent} | ${what.replace(/\|/g, '\\|')} |`);
      const inner = state.ItemProcessor ?? state.Iterator;
      if (inner !== undefined) add(inner, name);
      state.Branches?.forEach((b, i) => {
        add(b, `${name} (branch ${i + 1})`);
      });
    }
  };
  add(definition, '—');
  return rows.join('\n');
}

/** docs/STATE-MACHINE.md. */
export function stateMachineMarkdown(definition: AslMachine): string {
  return `<!-- Generated by \`npx tsx infra/diagram.ts\` from the synthesized definition. Do not edit. -->
# The build state machine

Generated from the synthesized definition (\`infra/workflow.ts\`); the contract it implements is
[ARCHITECTURE.md](ARCHITECTURE.md). Solid arrows are transitions (Choice arrows carry the condition), dotted
arrows are Catch transitions with the errors they catch. Map and Parallel states are boxes around their
iterations and branches.

\`\`\`mermaid
${mermaidFlowchart(definition)}
\`\`\`

## States

${stateTable(definition)}
`;
}

/** The placeholders docs/IAM.md shows for the stack's resources. */
export const DOC_PERMISSION_CONTEXT: PermissionContext = {
  stackName: '<stack>',
  partition: 'aws',
  account: '<account>',
  region: '<region>',
  stagingBucketArn: 'arn:aws:s3:::<staging-bucket>',
  commandDocumentName: '<command-document>',
  instanceRolePath: '/ami-builder/<stack>/',
  instanceRoleBoundaryArn: 'arn:aws:iam::<account>:policy/ami-builder/<stack>/<instance-role-boundary>',
  extraInstanceProfiles: [
    { name: '<extraInstanceProfiles[].name>', roleArn: '<extraInstanceProfiles[].roleArn>' },
  ],
  bundleBucketPatterns: ['<allowedBucketPatterns[]>'],
  x509ParameterPrefix: '<x509ParameterPrefix>',
  amiParameterPrefix: '<amiParameterPrefix>',
  // Shows the statement that exists only with adoptForeignImages (its reason says so).
  adoptForeignImages: true,
  stateMachineName: '<stack>-builds',
  abortCleanupFunctionArn: 'arn:aws:lambda:<region>:<account>:function:<abort-cleanup-function>',
  eventBusName: 'default',
  notificationTopic: { topicArn: '<notification-topic>', keyArn: '<notification-topic-key>' },
};

const code = (values: string[]) => values.map((v) => `\`${v}\``).join('<br>');

function conditionText(grant: TaskGrant): string {
  if (grant.conditions === undefined) return '';
  const parts: string[] = [];
  for (const [operator, keys] of Object.entries(grant.conditions)) {
    for (const [key, value] of Object.entries(keys)) {
      parts.push(`\`${operator} ${key} = ${Array.isArray(value) ? value.join(' \\| ') : value}\``);
    }
  }
  return parts.join('<br>');
}

/** docs/IAM.md. */
export function iamMarkdown(ctx: PermissionContext = DOC_PERMISSION_CONTEXT): string {
  const grants = taskGrants(ctx);
  const sections = (Object.keys(Tasks) as TaskId[]).map((taskId) => {
    const list = grants[taskId];
    const body =
      list.length === 0
        ? 'No AWS calls: only its own log group and X-Ray (every task has those).'
        : [
            '| Sid | Actions | Resources | Conditions | Why the resource has a wildcard |',
            '| --- | --- | --- | --- | --- |',
            ...list.map(
              (g) =>
                `| ${g.sid} | ${code(g.actions)} | ${code(g.resources)} | ${conditionText(g)} | ${(g.wildcardReason ?? '').replace(/\|/g, '\\|')} |`,
            ),
          ].join('\n');
    return `### ${taskId}\n\n${body}\n`;
  });
  return `<!-- Generated by \`npx tsx infra/diagram.ts\` from infra/permissions.ts. Do not edit. -->
# IAM footprint

Every Lambda task has its own role. Besides the statements below, each may write to its own log group
(\`logs:CreateLogStream\`, \`logs:PutLogEvents\` on that group) and send X-Ray traces. No statement has a \`*\`
action. Resources in \`<…>\` are the stack's own (CloudFormation references in the template) or configuration
values (CDK context, infra/config.ts). Whatever a build creates carries the tag \`ami-builder:stack = <stack>\` from
its creation: creating requires it (\`aws:RequestTag\`), terminating, deleting and changing attributes require it
on the resource (\`ec2:ResourceTag\`, \`ssm:resourceTag\`).

## Build instance (default instance profile)

| Sid | Actions | Resources |
| --- | --- | --- |
| (managed) | \`AmazonSSMManagedInstanceCore\` | SSM agent registration and Run Command |
| ListStagedCommandFolders | \`s3:ListBucket\` | staging bucket, prefix \`staging/*\` |
| DownloadStagedCommandFolders | \`s3:GetObject\` | \`<staging-bucket>/staging/*\` |
| UploadBundleBuckets | \`s3:ListBucket\`<br>\`s3:GetBucketLocation\` | \`arn:aws:s3:::<allowedBucketPatterns[]>\` |
| UploadBundleObjects | \`s3:PutObject\`<br>\`s3:GetObject\`<br>\`s3:PutObjectAcl\` | \`arn:aws:s3:::<allowedBucketPatterns[]>/*\` |
| WriteCommandOutput | \`logs:CreateLogStream\`<br>\`logs:PutLogEvents\`<br>\`logs:DescribeLogStreams\` | the command log group |
| FindCommandLogGroup | \`logs:DescribeLogGroups\` | \`arn:aws:logs:<region>:<account>:log-group:*\` |

Only this role and the configured \`extraInstanceProfiles\` roles may be passed (\`iam:PassRole\`, condition
\`iam:PassedToService = ec2.amazonaws.com\`).

## State machine

\`lambda:InvokeFunction\` on the task functions, X-Ray, and CloudWatch Logs delivery to its log group (as CDK
grants them). Scheduler role (when schedules are configured): \`states:StartExecution\` on the state machine and
\`sqs:SendMessage\` to the schedules' dead-letter queue. EventBridge may invoke Abort Cleanup and send to its
dead-letter queue.

## Tasks

${sections.join('\n')}`;
}

/** Synthesizes the stack with the default configuration (no bundling) and returns its definition. */
export function defaultDefinition(): AslMachine {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AmiBuilderStack(app, 'AmiBuilder', { config: parseConfig({}) });
  return synthDefinition(stack).definition as unknown as AslMachine;
}

/** Writes docs/STATE-MACHINE.md and docs/IAM.md. */
export function writeDocs(): void {
  writeFileSync(join(repoRoot, 'docs', 'STATE-MACHINE.md'), stateMachineMarkdown(defaultDefinition()));
  writeFileSync(join(repoRoot, 'docs', 'IAM.md'), iamMarkdown());
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeDocs();
}
