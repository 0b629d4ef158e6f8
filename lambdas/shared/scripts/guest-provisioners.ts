/**
 * The guest-side provisioners' commands, by type: which references each uploads (resolved by the Send Command
 * task, in this order) and its staged files and `run.sh`.
 */
import type { FileRef } from '../config.js';
import type { TemplateFunction } from '../template/engine.js';
import type { GuestProvisioner } from '../template/provisioners/guest-types.js';
import { ansibleLocalRefs, ansibleLocalScript } from './ansible-local.js';
import type { GuestSource, GuestStagedFile } from './guest-files.js';
import { puppetRefs, puppetScript } from './puppet-masterless.js';

export function guestRefs(p: GuestProvisioner): FileRef[] {
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
  p: GuestProvisioner,
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
