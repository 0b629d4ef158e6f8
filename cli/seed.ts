/**
 * The source AMI of a local build. The emulator knows no image but those it is given, so `ami-builder local`
 * seeds, in each build's region, an instance-store image the template's source resolves to: one with the
 * `source_ami` id itself, or one that matches `source_ami_filter` (its name, owner, tags, architecture,
 * virtualization type, … derived from the filters). A template thus runs unchanged.
 */

import type { SeedImage } from '../emulator/index.js';
import type { BuildConfig, SourceAmiFilter } from '../lambdas/shared/config.js';

/** The emulated account (emulator/README.md). */
export const EMULATED_ACCOUNT_ID = '123456789012';

/** One image to seed, and the line that tells the user about it. */
export interface SourceSeed {
  image: SeedImage;
  /** `source_ami` or `source_ami_filter`: what the image stands in for. */
  from: 'source_ami' | 'source_ami_filter';
  /** Filters the seeded image cannot satisfy, named so the user knows why Prevalidate may not find it. */
  unmatched: string[];
}

/** Filters that only ever hold for an image in a usable state, or that cannot be set on a seeded image. */
const IGNORED_FILTERS = new Set(['state', 'image-type', 'hypervisor', 'is-public']);

/**
 * A concrete value matching an EC2 filter pattern: `*` matches any run of characters (here, none, or `local` at
 * the end, where image names carry their date) and `?` any one character (here, `x`).
 */
export function concreteValue(pattern: string): string {
  return pattern.replace(/\*$/, 'local').replace(/\*/g, '').replace(/\?/g, 'x');
}

function first(values: readonly string[] | undefined): string | undefined {
  const value = values?.[0];
  return value === undefined ? undefined : concreteValue(value);
}

/** Root device name for a virtualization type, as the AMIs of that era use. */
function rootDeviceName(virtualizationType: string): string {
  return virtualizationType === 'hvm' ? '/dev/xvda' : '/dev/sda1';
}

/** The image that `source_ami_filter` selects: every filter that names an attribute is satisfied. */
export function imageForFilter(filter: SourceAmiFilter, build: BuildConfig): SourceSeed {
  const image: SeedImage = {
    region: build.region,
    name: 'ami-builder-local-source',
    rootDeviceType: 'instance-store',
    virtualizationType: build.amiVirtualizationType ?? 'paravirtual',
  };
  const unmatched: string[] = [];
  const tags: Record<string, string> = {};
  for (const [name, values] of Object.entries(filter.filters)) {
    const value = first(values);
    if (value === undefined) continue;
    if (name.startsWith('tag:')) {
      tags[name.slice(4)] = value;
      continue;
    }
    switch (name) {
      case 'name':
        image.name = value || image.name;
        break;
      case 'image-id':
        image.imageId = value;
        break;
      case 'architecture':
        image.architecture = value;
        break;
      case 'virtualization-type':
        if (value === 'hvm' || value === 'paravirtual') image.virtualizationType = value;
        else unmatched.push(name);
        break;
      case 'root-device-type':
        if (value === 'ebs' || value === 'instance-store') image.rootDeviceType = value;
        else unmatched.push(name);
        break;
      case 'root-device-name':
        image.rootDeviceName = value;
        break;
      case 'owner-id':
        image.ownerId = value;
        break;
      case 'owner-alias':
        image.ownerAlias = value;
        break;
      case 'description':
        image.description = value;
        break;
      case 'tag-key':
        tags[value] = 'ami-builder-local';
        break;
      case 'ena-support':
        image.enaSupport = value === 'true';
        break;
      case 'boot-mode':
        image.bootMode = value;
        break;
      default:
        if (!IGNORED_FILTERS.has(name)) unmatched.push(name);
    }
  }
  if (Object.keys(tags).length > 0) image.tags = tags;
  // An owner given by id, by alias, or `self` (the emulated account, the default).
  const owner = filter.owners[0];
  if (
    owner !== undefined &&
    owner !== 'self' &&
    image.ownerId === undefined &&
    image.ownerAlias === undefined
  ) {
    if (/^\d{12}$/.test(owner)) image.ownerId = owner;
    else image.ownerAlias = owner;
  }
  // Another owner's image is launchable by this account only when it is public.
  if ((image.ownerId ?? EMULATED_ACCOUNT_ID) !== EMULATED_ACCOUNT_ID || image.ownerAlias !== undefined) {
    image.public = true;
  }
  image.rootDeviceName ??= rootDeviceName(image.virtualizationType ?? 'paravirtual');
  return { image, from: 'source_ami_filter', unmatched };
}

/**
 * The images to seed for a template's builds: one per build region and source, `source_ami` taking precedence
 * over `source_ami_filter` as in Packer.
 */
export function sourceSeeds(builds: readonly BuildConfig[]): SourceSeed[] {
  const seeds: SourceSeed[] = [];
  const seen = new Set<string>();
  for (const build of builds) {
    let seed: SourceSeed | undefined;
    if (build.sourceAmi !== undefined && build.sourceAmi !== '') {
      const virtualizationType = build.amiVirtualizationType ?? 'paravirtual';
      seed = {
        image: {
          region: build.region,
          imageId: build.sourceAmi,
          name: `ami-builder-local-source-${build.sourceAmi}`,
          rootDeviceType: 'instance-store',
          virtualizationType,
          rootDeviceName: rootDeviceName(virtualizationType),
          description: 'Seeded by ami-builder local as the template’s source_ami',
        },
        from: 'source_ami',
        unmatched: [],
      };
    } else if (build.sourceAmiFilter !== undefined) {
      seed = imageForFilter(build.sourceAmiFilter, build);
    }
    if (seed === undefined) continue;
    const key = JSON.stringify(seed.image);
    if (seen.has(key)) continue;
    seen.add(key);
    seeds.push(seed);
  }
  return seeds;
}

/** The line printed for a seeded image. */
export function describeSeed(seed: SourceSeed, imageId: string): string {
  const { image } = seed;
  const kind = `${image.rootDeviceType ?? 'instance-store'}, ${image.virtualizationType ?? 'hvm'}, ${image.architecture ?? 'x86_64'}`;
  const owner = image.ownerAlias ?? image.ownerId;
  const detail =
    seed.from === 'source_ami'
      ? `(${kind})`
      : `"${image.name}"${owner === undefined ? '' : ` owned by ${owner}`} (${kind}), matching source_ami_filter`;
  const unmatched =
    seed.unmatched.length === 0 ? '' : `; the filters ${seed.unmatched.join(', ')} were not applied to it`;
  return `Seeded the emulator with source AMI ${imageId} ${detail} in ${image.region}${unmatched}`;
}
