/**
 * The ansible-local and puppet-masterless commands (the chef-solo and salt-masterless ones are planned in
 * lambdas/send-command/guest-plan.ts, which dispatches all four): which references each uploads (resolved by the
 * Send Command task, in this order) and its staged files and `run.sh`.
 */
import type { FileRef } from '../config.js';
import type { TemplateFunction } from '../template/engine.js';
import type { AnsibleLocalProvisioner } from '../template/provisioners/ansible-local.js';
import type { PuppetMasterlessProvisioner } from '../template/provisioners/puppet-masterless.js';
import { ansibleLocalRefs, ansibleLocalScript } from './ansible-local.js';
import type { GuestSource, GuestStagedFile } from './guest.js';
import { puppetRefs, puppetScript } from './puppet-masterless.js';

type ScriptedProvisioner = AnsibleLocalProvisioner | PuppetMasterlessProvisioner;

export function guestRefs(p: ScriptedProvisioner): FileRef[] {
  return p.type === 'ansible-local' ? ansibleLocalRefs(p) : puppetRefs(p);
}

export interface GuestScriptInput {
  sources: readonly GuestSource[];
  runAsUser?: string;
  buildName: string;
  builderType: string;
  /** Template functions bound to the build (Packer's `packerFunctions`). */
  functions: Record<string, TemplateFunction>;
  /** A uuid stable across retries of the command (the default ansible-local staging directory). */
  uuid: string;
  /** Packer's random suffix (the generated inventory's name). */
  suffix: number;
  keyPath: string;
  step: string;
}

export function guestScript(
  p: ScriptedProvisioner,
  input: GuestScriptInput,
): { script: string; staged: GuestStagedFile[] } {
  const runAs = input.runAsUser === undefined ? {} : { runAsUser: input.runAsUser };
  if (p.type === 'ansible-local') {
    return ansibleLocalScript({
      provisioner: p,
      sources: input.sources,
      ...runAs,
      buildName: input.buildName,
      builderType: input.builderType,
      uuid: input.uuid,
      inventorySuffix: input.suffix,
      step: input.step,
    });
  }
  return puppetScript({
    provisioner: p,
    sources: input.sources,
    ...runAs,
    functions: input.functions,
    keyPath: input.keyPath,
    step: input.step,
  });
}
