/**
 * What a person sees for each state: Packer's wording where Packer has a step that does the same thing
 * (reference §7.2), plain phrases elsewhere. Keyed by state name, the contract with the execution view.
 */

import { StateNames } from '../../infra/state-names.js';
import { describeLeak } from '../../lambdas/shared/cleanup-report.js';
import type {
  BuildOutput,
  BuildState,
  CleanupReport,
  CommandInfo,
  ImageInfo,
} from '../../lambdas/shared/state.js';
import type { ProgressEvent } from './events.js';

export interface Line {
  level: 'say' | 'message' | 'error';
  text: string;
  /** The build the line belongs to; undefined: the printer's default target. */
  build?: string;
}

type StateView = Record<string, unknown> & Partial<BuildState>;

const say = (text: string, build?: string): Line => ({ level: 'say', text, build });
const message = (text: string, build?: string): Line => ({ level: 'message', text, build });

function asState(value: unknown): StateView {
  return typeof value === 'object' && value !== null ? (value as StateView) : {};
}

function buildName(value: unknown): string | undefined {
  const s = asState(value);
  const config = s.config as { name?: unknown } | undefined;
  return typeof config?.name === 'string' ? config.name : undefined;
}

/** The first check of a poll loop: prints the "Waiting for …" line once per target. */
function firstCheck(input: StateView, key: string, target: string | undefined): boolean {
  const previous = input.poll?.[key];
  return previous === undefined || previous.target !== target;
}

type EnterHandler = (input: StateView, build: string | undefined) => Line[];
type ExitHandler = (output: StateView, build: string | undefined, input: StateView) => Line[];

function provisionerLine(input: StateView, build: string | undefined): Line[] {
  const p = input.provisioner as
    | {
        type?: string;
        name?: string;
        inline?: unknown;
        scripts?: { uri: string }[];
        sources?: { uri: string }[];
        destination?: string;
        content?: unknown;
      }
    | undefined;
  if (!p) return [say('Provisioning...', build)];
  if (p.type === 'chef-solo') return [say('Provisioning with chef-solo', build)];
  if (p.type === 'salt-masterless') return [say('Provisioning with Salt...', build)];
  if (p.type === 'ansible-local') return [say('Provisioning with Ansible...', build)];
  if (p.type === 'puppet-masterless') return [say('Provisioning with Puppet...', build)];
  if (p.type === 'file') {
    const from = p.sources && p.sources.length > 0 ? p.sources.map((s) => s.uri).join(', ') : '<content>';
    return [say(`Uploading ${from} => ${p.destination ?? ''}`, build)];
  }
  if (p.scripts && p.scripts.length > 0) {
    return p.scripts.map((s) => say(`Provisioning with shell script: ${s.uri}`, build));
  }
  return [say(`Provisioning with shell script: ${inlineName(p)}`, build)];
}

/** `inline commands of provisioner 2 "setup": apt-get update (+2 more)`: which inline script runs. */
function inlineName(p: { name?: string; index?: number; inline?: unknown }): string {
  const commands = Array.isArray(p.inline) ? p.inline.filter((c): c is string => typeof c === 'string') : [];
  const which = p.index === undefined ? 'inline commands' : `inline commands of provisioner ${p.index + 1}`;
  const named = p.name !== undefined && p.name !== 'shell' ? ` "${p.name}"` : '';
  const first = (commands[0] ?? '').split('\n')[0] ?? '';
  const shown = first.length > 60 ? `${first.slice(0, 57)}...` : first;
  const more = commands.length > 1 ? ` (+${commands.length - 1} more)` : '';
  return `${which}${named}${shown === '' ? '' : `: ${shown}`}${more}`;
}

const onEnter: Record<string, EnterHandler> = {
  [StateNames.ValidateTemplate]: () => [],
  [StateNames.PrepareResume]: (i) =>
    typeof i.resume === 'string' ? [say(`Checking what the failed execution ${i.resume} kept...`)] : [],
  [StateNames.Prevalidate]: (i, b) => {
    const lines = [say('Prevalidating any provided VPC information', b)];
    const config = i.config;
    if (config?.forceDeregister)
      lines.push(say('Force Deregister flag found, skipping prevalidating AMI Name', b));
    else if (config) lines.push(say(`Prevalidating AMI Name: ${config.amiName}`, b));
    return lines;
  },
  [StateNames.EnsureBundleBucket]: (i, b) => [
    say(`Checking the bundle bucket: ${i.config?.bundle.bucket ?? ''}`, b),
  ],
  [StateNames.CreateSecurityGroup]: (i, b) =>
    i.config && i.config.network.securityGroupIds.length === 0 && !i.config.network.securityGroupFilter
      ? [say('Creating temporary security group for this instance (no ingress: SSM needs none)...', b)]
      : [say('Using the given security group(s)...', b)],
  [StateNames.LaunchInstance]: (_i, b) => [say('Launching a source AWS instance...', b)],
  [StateNames.CheckInstanceRunning]: (i, b) =>
    firstCheck(i, 'instanceRunning', i.instance?.instanceId)
      ? [say(`Waiting for instance (${i.instance?.instanceId ?? ''}) to become ready...`, b)]
      : [],
  [StateNames.CheckSsmAgent]: (i, b) =>
    firstCheck(i, 'agent', i.instance?.instanceId)
      ? [say('Waiting for the SSM agent to come online...', b)]
      : [],
  [StateNames.SendProvisionerCommand]: provisionerLine,
  [StateNames.SendErrorCleanupCommand]: (i, b) => [
    say('Running the error-cleanup-provisioner...', b),
    ...provisionerLine({ provisioner: i.config?.errorCleanupProvisioner }, b),
  ],
  [StateNames.UploadX509Certificate]: (_i, b) => [say('Uploading X509 Certificate...', b)],
  [StateNames.BundleVolume]: (_i, b) => [say('Bundling the volume...', b)],
  [StateNames.UploadBundle]: (_i, b) => [say('Uploading the bundle...', b)],
  [StateNames.ForceDeregister]: (_i, b) => [
    say('Deregistering existing AMIs with the same name (force_deregister)...', b),
  ],
  [StateNames.RegisterAmi]: (_i, b) => [say('Registering the AMI...', b)],
  [StateNames.CheckAmiAvailable]: (i, b) =>
    firstCheck(i, 'image', i.image?.imageId) ? [say('Waiting for AMI to become ready...', b)] : [],
  [StateNames.LaunchTestInstance]: (i, b) => [
    say(`Testing the AMI (ami_test): launching an instance from ${i.image?.imageId ?? 'the new AMI'}...`, b),
  ],
  [StateNames.CheckTestInstanceRunning]: (i, b) =>
    firstCheck(i, 'testInstanceRunning', i.testInstance?.instanceId)
      ? [say(`Waiting for the test instance (${i.testInstance?.instanceId ?? ''}) to become ready...`, b)]
      : [],
  [StateNames.CheckTestSsmAgent]: (i, b) =>
    firstCheck(i, 'testAgent', i.testInstance?.instanceId)
      ? [say("Waiting for the test instance's SSM agent to come online...", b)]
      : [],
  [StateNames.SendTestCommand]: (_i, b) => [say('Running the AMI test commands...', b)],
  [StateNames.TerminateTestInstance]: (_i, b) => [
    say('AMI test passed. Terminating the test instance...', b),
  ],
  [StateNames.DeregisterFailedAmi]: (i, b) => [
    say(`AMI test failed: deregistering ${i.image?.imageId ?? 'the AMI'} and deleting its bundle...`, b),
  ],
  [StateNames.KeepFailedAmi]: (i, b) => [
    say(`AMI test failed: keeping ${i.image?.imageId ?? 'the AMI'} (on_failure: keep)...`, b),
  ],
  [StateNames.CopyAndFinish]: (i, b) =>
    (i.config?.amiRegions.length ?? 0) > 0
      ? [
          say(`Copying/Encrypting AMI (${i.image?.imageId ?? ''}) to other regions...`, b),
          ...(i.config?.amiRegions ?? []).map((r) => message(`Copying to: ${r}`, b)),
          message('Waiting for all copies to complete...', b),
        ]
      : [],
  [StateNames.FinishAmi]: (i, b) => finishLines(i, b, i.image?.imageId),
  [StateNames.FinishAmiCopy]: (i, b) => finishLines(i, b, (i.copy as ImageInfo | undefined)?.imageId),
  [StateNames.TerminateInstance]: (i, b) =>
    i.instance ? [say('Terminating the source AWS instance...', b)] : [],
  // What happens to the instance after a failure depends on on_error: its exit says what was done.
  [StateNames.CleanUpAfterFailure]: () => [],
  [StateNames.DeleteTemporaryResources]: (_i, b) => [
    say('Cleaning up any extra volumes and temporary resources...', b),
  ],
  [StateNames.DeleteTemporaryResourcesAfterFailure]: (_i, b) => [
    say('Cleaning up any extra volumes and temporary resources...', b),
  ],
};

function finishLines(i: StateView, b: string | undefined, imageId: string | undefined): Line[] {
  const c = i.config;
  if (!c) return [];
  const lines: Line[] = [];
  if (!c.deprecateAt) lines.push(say('Skipping Enable AMI deprecation...', b));
  if (!c.deregistrationProtection.enabled)
    lines.push(say('Skipping Enable AMI deregistration protection...', b));
  const attrs: string[] = [];
  if (c.amiDescription) attrs.push('description');
  if (c.amiGroups.length) attrs.push('groups');
  if (c.amiUsers.length) attrs.push('users');
  if (c.amiOrgArns.length) attrs.push('org_arns');
  if (c.amiOuArns.length) attrs.push('ou_arns');
  if (c.amiProductCodes.length) attrs.push('product codes');
  if (c.imdsSupport) attrs.push('imds_support');
  if (attrs.length > 0) {
    lines.push(say(`Modifying attributes on AMI (${imageId ?? ''})...`, b));
    for (const a of attrs) lines.push(message(`Modifying: ${a}`, b));
  }
  if (Object.keys(c.tags).length > 0) lines.push(say(`Adding tags to AMI (${imageId ?? ''})...`, b));
  return lines;
}

const onExit: Record<string, ExitHandler> = {
  [StateNames.Prevalidate]: (o, b) => (o.source ? [message(`Found Image ID: ${o.source.imageId}`, b)] : []),
  [StateNames.EnsureBundleBucket]: (o, b) =>
    o.bucket
      ? [
          message(
            `${o.bucket.created ? 'Created' : 'Using'} bucket ${o.bucket.name} in ${o.bucket.region}`,
            b,
          ),
        ]
      : [],
  [StateNames.CreateSecurityGroup]: (o, b) =>
    o.network ? [message(`Security group(s): ${o.network.securityGroupIds.join(', ')}`, b)] : [],
  [StateNames.LaunchInstance]: (o, b) => {
    const lines: Line[] = [];
    const runTags = o.source?.rendered.runTags ?? {};
    for (const [k, v] of Object.entries(runTags)) lines.push(message(`Adding tag: "${k}": "${v}"`, b));
    if (o.instance) lines.push(message(`Instance ID: ${o.instance.instanceId}`, b));
    return lines;
  },
  [StateNames.CheckSsmAgent]: (o, b) => (o.poll?.agent?.done ? [say('Connected to the SSM agent!', b)] : []),
  [StateNames.SendProvisionerCommand]: (o, b) => commandLine(o.command, b),
  [StateNames.UploadX509Certificate]: (o, b) => commandLine(o.command, b),
  [StateNames.BundleVolume]: (o, b) => commandLine(o.command, b),
  [StateNames.UploadBundle]: (o, b) => commandLine(o.command, b),
  [StateNames.LaunchTestInstance]: (o, b) =>
    o.testInstance ? [message(`Test instance ID: ${o.testInstance.instanceId}`, b)] : [],
  [StateNames.SendTestCommand]: (o, b) => commandLine(o.command, b),
  [StateNames.TerminateTestInstance]: (o, b) => cleanupLines(o.testCleanup, b),
  [StateNames.DeregisterFailedAmi]: (o, b) =>
    (o.testCleanup?.deregisteredImages ?? []).map((id) => message(`Deregistered AMI ${id}`, b)),
  [StateNames.KeepFailedAmi]: (o, b) =>
    (o.testCleanup?.kept ?? []).map((k) => message(`Kept ${k.resource}`, b)),
  [StateNames.ForceDeregister]: (o, b) => {
    const d = (o.forceDeregister as { deregistered?: ImageInfo[] } | undefined)?.deregistered ?? [];
    return d.map((img) =>
      say(`Deregistered AMI ${o.config?.amiName ?? ''}, id: ${img.imageId} (${img.region})`, b),
    );
  },
  [StateNames.RegisterAmi]: (o, b) => (o.image ? [say(`AMI: ${o.image.imageId}`, b)] : []),
  [StateNames.CleanUpAfterFailure]: (o, b) => {
    const report = o.cleanup;
    if (!report) return [];
    const lines: Line[] = [];
    if (report.terminatedInstances.length > 0) lines.push(say('Terminating the source AWS instance...', b));
    for (const k of report.kept) {
      lines.push(say(`Kept ${k.resource}: ${k.reason}`, b));
    }
    return lines;
  },
  [StateNames.DeleteTemporaryResources]: (o, b) => cleanupLines(o.cleanup, b),
  [StateNames.DeleteTemporaryResourcesAfterFailure]: (o, b) => cleanupLines(o.cleanup, b),
};

function commandLine(command: CommandInfo | undefined, b: string | undefined): Line[] {
  return command
    ? [message(`SSM command ${command.commandId} (${command.kind}, attempt ${command.attempt})`, b)]
    : [];
}

function cleanupLines(report: CleanupReport | undefined, b: string | undefined): Line[] {
  if (!report) return [];
  const lines: Line[] = [];
  for (const i of report.terminatedInstances) lines.push(message(`Terminated instance ${i}`, b));
  for (const g of report.deletedSecurityGroups)
    lines.push(message(`Deleted temporary security group ${g}`, b));
  if (report.deletedStagedObjects > 0)
    lines.push(message(`Deleted ${report.deletedStagedObjects} staged file(s)`, b));
  for (const k of report.kept) lines.push(say(`Kept ${k.resource}: ${k.reason}`, b));
  for (const l of report.leaked ?? []) lines.push(say(`Left behind ${describeLeak(l)}`, b));
  return lines;
}

/** Extracts `errorMessage` from a Lambda error cause (`{"errorType","errorMessage","trace"}`), else the cause. */
export function causeMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: a plain cause
  }
  return cause;
}

/** The lines for one progress event. */
export function linesForEvent(event: ProgressEvent, defaultTarget: string): Line[] {
  switch (event.kind) {
    case 'state-entered': {
      const handler = onEnter[event.state];
      return handler ? handler(asState(event.input), buildName(event.input)) : [];
    }
    case 'state-exited': {
      const handler = onExit[event.state];
      return handler ? handler(asState(event.output), buildName(event.output), asState(event.input)) : [];
    }
    case 'state-retried':
      return [message(`Retrying "${event.state}" (attempt ${event.attempt})...`)];
    case 'state-failed':
      return [
        {
          level: 'error',
          text: `${event.error}: ${causeMessage(event.cause)}`,
          build: buildName(event.input),
        },
      ];
    case 'execution-aborted':
      return [
        say(
          event.reason === 'aborted'
            ? 'Execution was stopped: the abort cleanup removes what the build created.'
            : 'Execution timed out: the abort cleanup removes what the build created.',
          defaultTarget,
        ),
      ];
    default:
      return [];
  }
}

export type { BuildOutput };
