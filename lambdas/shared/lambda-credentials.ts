/**
 * The credentials of a task in Lambda, in place of the SDK's default chain: the handlers' bundles alias
 * `@aws-sdk/credential-provider-node` to this module (infra/bundle.ts), so that every SDK client's default
 * `credentialDefaultProvider` is this one.
 *
 * Lambda gives a function its execution role's credentials in the environment (`AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the first link of the default chain. The default chain's other
 * links (shared config and credentials files, SSO, `credential_process`, web identity, login) are never reached
 * there, and with their STS and SSO clients they are about a quarter of a small handler's code and start-up time.
 * The container credentials endpoint stays as the second link, for runtimes that give credentials that way.
 * (The CLI, run by a person with profiles and SSO, keeps the whole default chain: it is bundled apart.)
 */
import { createCredentialChain, fromContainerMetadata, fromEnv } from '@aws-sdk/credential-providers';

type ProviderInit = Parameters<typeof fromEnv>[0] & Parameters<typeof fromContainerMetadata>[0];

/** The same export as `@aws-sdk/credential-provider-node`'s, which the clients' runtime configuration calls. */
export function defaultProvider(init: ProviderInit = {}) {
  return createCredentialChain(fromEnv(init), fromContainerMetadata(init));
}
