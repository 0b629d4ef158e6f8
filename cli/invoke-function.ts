/**
 * Invokes one of the stack's own functions (Sweep Orphans, Apply Retention) synchronously for a CLI command and
 * returns its JSON result.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

/**
 * @param what names the run in the error ("the sweep", "retention")
 * @throws Error `<what> failed: <the function's error>` when the function failed
 */
export async function invokeStackFunction<R>(
  region: string | undefined,
  functionName: string,
  request: unknown,
  what: string,
): Promise<R> {
  const lambda = new LambdaClient(region === undefined ? {} : { region });
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: new TextEncoder().encode(JSON.stringify(request)),
    }),
  );
  const text = new TextDecoder().decode(result.Payload ?? new Uint8Array());
  if (result.FunctionError !== undefined) throw new Error(`${what} failed: ${text.slice(0, 2000)}`);
  return JSON.parse(text) as R;
}
