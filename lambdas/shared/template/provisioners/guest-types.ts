/**
 * The guest-side provisioner types this system runs on the instance besides `shell` and `file`: one registry of
 * their keys and decoders, looked up by type by the provisioner decoder, the JSON schema and the docs.
 *
 * The table is built on first use: the chef-solo and salt-masterless modules import the provisioner decoder,
 * which imports this module, so their exports may not be initialised yet when this module is evaluated.
 */
import type { Provisioner, ProvisionerTiming } from '../../config.js';
import type { Decoded } from '../decode.js';
import { type FieldSpec, PROVISIONER_COMMON_KEYS } from '../keys.js';
import type { ProvisionerContext } from '../provisioners.js';
import { timing } from '../provisioners.js';
import { ANSIBLE_OWN_KEYS, decodeRemoteAnsible } from './ansible.js';
import { ANSIBLE_LOCAL_OWN_KEYS, type AnsibleLocalProvisioner, decodeAnsibleLocal } from './ansible-local.js';
import { CHEF_SOLO_KEYS, type ChefSoloProvisioner, chefSolo } from './chef-solo.js';
import {
  decodePuppetMasterless,
  PUPPET_MASTERLESS_OWN_KEYS,
  type PuppetMasterlessProvisioner,
} from './puppet-masterless.js';
import { SALT_MASTERLESS_KEYS, type SaltMasterlessProvisioner, saltMasterless } from './salt-masterless.js';

/** A decoded guest-side provisioner (the remote `ansible` provisioner decodes to `ansible-local`). */
export type GuestProvisioner =
  | AnsibleLocalProvisioner
  | PuppetMasterlessProvisioner
  | ChefSoloProvisioner
  | SaltMasterlessProvisioner;

/** The template types, in the order messages and docs list them. */
export const GUEST_PROVISIONER_TYPES = [
  'ansible-local',
  'ansible',
  'chef-solo',
  'puppet-masterless',
  'salt-masterless',
] as const;

interface GuestType {
  keys: readonly FieldSpec[];
  decode: (d: Decoded, index: number, ctx: ProvisionerContext) => GuestProvisioner | undefined;
}

/** Adds the index and the core's `pause_before` / `max_retries` / `timeout` to a decoder that leaves them out. */
function withCore<P extends GuestProvisioner>(
  decode: (d: Decoded, ctx: ProvisionerContext) => Omit<P, 'index' | keyof ProvisionerTiming> | undefined,
): GuestType['decode'] {
  return (d, index, ctx) => {
    const times = timing(d, ctx, `provisioner ${index + 1}`);
    const decoded = decode(d, ctx);
    return decoded === undefined ? undefined : ({ ...decoded, index, ...times } as P);
  };
}

let table: Readonly<Record<(typeof GUEST_PROVISIONER_TYPES)[number], GuestType>> | undefined;

function guestTypes(): Readonly<Record<(typeof GUEST_PROVISIONER_TYPES)[number], GuestType>> {
  table ??= {
    'ansible-local': {
      keys: [...PROVISIONER_COMMON_KEYS, ...ANSIBLE_LOCAL_OWN_KEYS],
      decode: withCore<AnsibleLocalProvisioner>(decodeAnsibleLocal),
    },
    ansible: {
      keys: [...PROVISIONER_COMMON_KEYS, ...ANSIBLE_OWN_KEYS],
      decode: withCore<AnsibleLocalProvisioner>(decodeRemoteAnsible),
    },
    'chef-solo': { keys: CHEF_SOLO_KEYS, decode: chefSolo },
    'puppet-masterless': {
      keys: [...PROVISIONER_COMMON_KEYS, ...PUPPET_MASTERLESS_OWN_KEYS],
      decode: withCore<PuppetMasterlessProvisioner>((d, ctx) =>
        decodePuppetMasterless(d, ctx, {
          name: ctx.env.buildName ?? '',
          type: ctx.env.buildType ?? 'amazon-instance',
          userVariables: ctx.env.userVariables,
        }),
      ),
    },
    'salt-masterless': { keys: SALT_MASTERLESS_KEYS, decode: saltMasterless },
  };
  return table;
}

/** The keys and decoder of a guest-side provisioner type, or `undefined` for any other type. */
export function guestType(type: string): GuestType | undefined {
  return (GUEST_PROVISIONER_TYPES as readonly string[]).includes(type)
    ? guestTypes()[type as (typeof GUEST_PROVISIONER_TYPES)[number]]
    : undefined;
}

/** Whether a decoded provisioner runs on the instance through the guest-provisioner commands. */
export function isGuestProvisioner(p: Provisioner): p is GuestProvisioner {
  return p.type !== 'shell' && p.type !== 'file';
}
