/** What a succeeded build produced, read from its state; used by Publish AMI IDs and Report Build alike. */
import type { Artifacts } from './artifact.js';
import type { BuildState } from './state.js';
import { requireState } from './task-event.js';

/**
 * Region → AMI id of a succeeded build: the registered image plus every copy (Packer's `Artifact.Amis`), or,
 * for an unchanged build (`skip_if_unchanged`), the existing AMI and its copies.
 *
 * @throws TaskInputError when the state has no `$.image`
 */
export function buildArtifacts(build: BuildState): Artifacts {
  // skip_if_unchanged found the AMI this build would have built: it is the build's artifact.
  const unchanged = build.fingerprint?.unchanged;
  if (unchanged !== undefined) {
    const artifacts: Artifacts = { [unchanged.image.region]: unchanged.image.imageId };
    for (const copy of unchanged.copies) artifacts[copy.region] = copy.imageId;
    return artifacts;
  }
  const image = requireState(build, 'image');
  const artifacts: Artifacts = { [image.region || build.config.region]: image.imageId };
  for (const copy of build.copies ?? []) {
    if (typeof copy?.region === 'string' && typeof copy.imageId === 'string')
      artifacts[copy.region] = copy.imageId;
  }
  return artifacts;
}
