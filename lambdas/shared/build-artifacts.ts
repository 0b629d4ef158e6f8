/** What a succeeded build produced, read from its state; used by Publish AMI IDs and Report Build alike. */
import type { Artifacts } from './artifact.js';
import type { BuildState } from './state.js';
import { requireState } from './task-event.js';

/**
 * Region → AMI id of a succeeded build: the registered image plus every copy (Packer's `Artifact.Amis`).
 *
 * @throws TaskInputError when the state has no `$.image`
 */
export function buildArtifacts(build: BuildState): Artifacts {
  const image = requireState(build, 'image');
  const artifacts: Artifacts = { [image.region || build.config.region]: image.imageId };
  for (const copy of build.copies ?? []) {
    if (typeof copy?.region === 'string' && typeof copy.imageId === 'string')
      artifacts[copy.region] = copy.imageId;
  }
  return artifacts;
}
