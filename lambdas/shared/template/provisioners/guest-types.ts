/**
 * The guest-side provisioner types this system runs on the instance besides `shell` and `file`: their keys and
 * decoders, looked up by type by the provisioner decoder.
 */
import type { Decoded } from '../decode.js';
import { type FieldSpec, PROVISIONER_COMMON_KEYS } from '../keys.js';
import type { RenderEnv } from '../render.js';
import { ANSIBLE_OWN_KEYS, decodeRemoteAnsible } from './ansible.js';
import { ANSIBLE_LOCAL_OWN_KEYS, type AnsibleLocalProvisioner, decodeAnsibleLocal } from './ansible-local.js';
import type { GuestContext } from './guest-paths.js';
import {
  decodePuppetMasterless,
  PUPPET_MASTERLESS_OWN_KEYS,
  type PuppetMasterlessProvisioner,
} from './puppet-masterless.js';

export type GuestProvisioner = AnsibleLocalProvisioner | PuppetMasterlessProvisioner;

type Timing = Pick<GuestProvisioner, 'maxRetries' | 'timeoutSeconds' | 'pauseBeforeSeconds'>;

interface GuestType {
  keys: readonly FieldSpec[];
  /** Keys whose text is a command template rendered on the instance side, not at validation. */
  late?: readonly string[];
  decode: (
    d: Decoded,
    ctx: GuestContext,
    env: RenderEnv,
  ) => Omit<GuestProvisioner, 'index' | keyof Timing> | undefined;
}

export const GUEST_TYPES: Readonly<Record<string, GuestType>> = {
  'ansible-local': {
    keys: [...PROVISIONER_COMMON_KEYS, ...ANSIBLE_LOCAL_OWN_KEYS],
    decode: (d, ctx) => decodeAnsibleLocal(d, ctx),
  },
  ansible: {
    keys: [...PROVISIONER_COMMON_KEYS, ...ANSIBLE_OWN_KEYS],
    decode: (d, ctx) => decodeRemoteAnsible(d, ctx),
  },
  'puppet-masterless': {
    keys: [...PROVISIONER_COMMON_KEYS, ...PUPPET_MASTERLESS_OWN_KEYS],
    late: ['execute_command'],
    decode: (d, ctx, env) =>
      decodePuppetMasterless(d, ctx, {
        name: env.buildName ?? '',
        type: env.buildType ?? 'amazon-instance',
        userVariables: env.userVariables,
      }),
  },
};

export function isGuestType(type: string): boolean {
  return Object.hasOwn(GUEST_TYPES, type);
}

/** Decodes a guest-side provisioner; `timing` gives the core's `pause_before` / `max_retries` / `timeout`. */
export function decodeGuest(
  type: string,
  d: Decoded,
  index: number,
  ctx: GuestContext,
  env: RenderEnv,
  timing: Timing,
): GuestProvisioner | undefined {
  const spec = GUEST_TYPES[type];
  const decoded = spec?.decode(d, ctx, env);
  if (decoded === undefined) return undefined;
  return { ...decoded, index, ...timing } as GuestProvisioner;
}
