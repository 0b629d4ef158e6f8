/**
 * The error of a stack lookup, apart from the lookup itself, so that commands that only report it (`validate`
 * through the shared template reader) do not load the AWS SDK clients.
 */

/** The stack or one of its outputs is missing; the message says which and what to do. */
export class StackLookupError extends Error {
  override readonly name = 'StackLookupError' as const;
}
