/**
 * The tasks' tracer: Powertools' Tracer over the X-Ray SDK. A module of its own, loaded by `observability.ts` only
 * where tracing can be on (Powertools traces only in Lambda: `AWS_EXECUTION_ENV` set), so that a task's code file
 * holds neither library and its module load evaluates neither. The bundle puts it beside each task's code file as
 * `tracing.mjs` (infra/bundle.ts).
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Correlation } from './observability.js';

let instance: Tracer | undefined;

/** The tasks' tracer, created on first use; Powertools decides whether tracing is active. */
export function tracer(serviceName: string): Tracer {
  instance ??= new Tracer({ serviceName });
  return instance;
}

/** Captures an SDK v3 client, so that each of its calls is a subsegment of the invocation's trace. */
export function captureClient<C>(serviceName: string, client: C): C {
  return tracer(serviceName).captureAWSv3Client(client);
}

/**
 * Runs one invocation inside a trace subsegment (`## <state or task>`) annotated with the build and the
 * execution, when tracing is active; an error is added to the subsegment as metadata and thrown on.
 */
export async function traceInvocation<R>(
  serviceName: string,
  keys: Correlation,
  run: () => Promise<R>,
): Promise<R> {
  const t = tracer(serviceName);
  const parent = t.isTracingEnabled() ? t.getSegment() : undefined;
  const subsegment = parent?.addNewSubsegment(`## ${keys.state_name ?? 'handler'}`);
  if (subsegment === undefined || parent === undefined) return run();
  t.setSegment(subsegment);
  t.annotateColdStart();
  t.addServiceNameAnnotation();
  if (keys.build_name !== undefined) t.putAnnotation('build', keys.build_name);
  if (keys.execution_name !== undefined) t.putAnnotation('execution', keys.execution_name);
  try {
    return await run();
  } catch (error) {
    t.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    subsegment.close();
    t.setSegment(parent);
  }
}
