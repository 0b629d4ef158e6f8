/**
 * Packer's artifact formatting for the AMIs of one build (`builder/common/artifact.go` in packer-plugin-amazon,
 * reference §7.1): scripts parse `artifact_id` by splitting on `,` and then on `:`, so both texts stay
 * byte-for-byte Packer's. The CLI prints the same strings; keep them stable.
 */

/** Region → AMI id, the build region plus every copy (Packer's `Artifact.Amis`). */
export type Artifacts = Record<string, string>;

// Go's sort.Strings orders by bytes; JavaScript's default sort orders by UTF-16 code units, which agree on the
// ASCII that region names and AMI ids are made of. localeCompare would not.
function sortedLines(artifacts: Artifacts, separator: string): string[] {
  return Object.entries(artifacts)
    .map(([region, amiId]) => `${region}${separator}${amiId}`)
    .sort();
}

/**
 * Packer's artifact id: `region:ami` pairs, sorted, joined by `,`
 * (`us-east-1:ami-0def,us-west-2:ami-0fed`). Empty when no AMI was created.
 */
export function artifactId(artifacts: Artifacts): string {
  return sortedLines(artifacts, ':').join(',');
}

/**
 * Packer's artifact string: `AMIs were created:\n` then one sorted `region: ami` line each, with Packer's
 * trailing newline. Empty when no AMI was created (Packer has no artifact then).
 */
export function artifactString(artifacts: Artifacts): string {
  const lines = sortedLines(artifacts, ': ');
  if (lines.length === 0) return '';
  return `AMIs were created:\n${lines.join('\n')}\n`;
}
