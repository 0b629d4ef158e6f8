/**
 * Resuming a failed build (README, "Resume a failed build"): what the failed execution's history says about
 * each of its builds, where a resumed build enters the workflow, and whether the template changed a step that
 * the resumed build will not run again. No AWS call here: Prepare Resume reads the history
 * (lambdas/prepare-resume/resume.ts) and passes it in.
 *
 * A step's identity is a digest of its part of the normalized config. Files the CLI staged are
 * content-addressed (`staging/<execution>/files/<sha256 prefix>/<name>`, cli/stage.ts): the execution folder is
 * left out of the digest, so the digest changes with the file's content and not with the execution.
 */
import { createHash } from 'node:crypto';
import type { BuildConfig, Provisioner } from './config.js';
import type { BuildState } from './state.js';

const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;

/** `arn:…:execution:<state machine>:<name>` → the state machine's part (`arn:…:execution:<state machine>`). */
const machineOf = (arn: string): string => arn.split(':').slice(0, 7).join(':');

/**
 * What is wrong with `arn` as the execution that the execution `executionId` resumes, from the ARNs alone: it
 * must be an execution ARN, of the same state machine, and not the execution itself. Empty: nothing.
 */
export function resumeArnProblems(arn: string, executionId: string): string[] {
  if (!EXECUTION_ARN.test(arn)) {
    return [
      `"${arn}" is not an execution ARN (arn:aws:states:<region>:<account>:execution:<machine>:<name>)`,
    ];
  }
  if (machineOf(arn) !== machineOf(executionId)) {
    return [`${arn} is not an execution of this state machine (${machineOf(executionId)})`];
  }
  return arn === executionId ? ['an execution cannot resume itself'] : [];
}

/** Where a resumed build enters: the failed step, which it runs again, then everything after it. */
export type ResumeStep = 'provision' | 'x509' | 'bundle' | 'upload' | 'register';

export interface ResumePoint {
  step: ResumeStep;
  /** For `provision`: the provisioner (index in `config.provisioners`) that failed. */
  provisionerIndex?: number;
}

/** One step before the failed one, as compared between the failed build's config and the new one. */
export interface StepDigest {
  /** `launch`, `provisioner 2`, `x509`, `bundle`, `upload`. */
  key: string;
  /** How the step is named in a refusal. */
  label: string;
  digest: string;
}

/** The state names the history is read by (infra/state-names.ts; a test checks they match). */
export const ResumeStateNames = {
  reportFailedBuild: 'Report Failed Build',
  reportBuild: 'Report Build',
} as const;

/** Build states, by name, that belong to each step (the failure path and the copies are not in it). */
const STEP_OF_STATE: Record<string, ResumeStep | 'before' | 'after'> = {
  'Resume Build?': 'before',
  'Adopt Kept Resources': 'before',
  Prevalidate: 'before',
  'Skip If Unchanged?': 'before',
  'Check Unchanged': 'before',
  'Unchanged?': 'before',
  'Ensure Bundle Bucket': 'before',
  'Create Security Group': 'before',
  'Create Instance Role': 'before',
  'Launch Instance': 'before',
  'Check Instance Running': 'before',
  'Check SSM Agent': 'before',
  'Resume At?': 'before',
  'Run Provisioners': 'provision',
  'Provisioner Done Before?': 'provision',
  'Pause Before Provisioner': 'provision',
  'Send Provisioner Command': 'provision',
  'Check Provisioner Command': 'provision',
  'Provisioner Command Done?': 'provision',
  'Upload X509 Certificate': 'x509',
  'Check X509 Upload': 'x509',
  'X509 Upload Done?': 'x509',
  'Bundle Volume': 'bundle',
  'Check Bundle Volume': 'bundle',
  'Bundle Volume Done?': 'bundle',
  'Upload Bundle': 'upload',
  'Check Upload Bundle': 'upload',
  'Upload Bundle Done?': 'upload',
  'Force Deregister?': 'register',
  'Force Deregister': 'register',
  'Register AMI': 'register',
  'Check AMI Available': 'after',
  'AMI Available?': 'after',
  'Wait For AMI': 'after',
  'Test AMI?': 'after',
  'Launch Test Instance': 'after',
  'Check Test Instance Running': 'after',
  'Check Test SSM Agent': 'after',
  'Send Test Command': 'after',
  'Check Test Command': 'after',
  'Terminate Test Instance': 'after',
  'Deregister Failed AMI?': 'after',
  'Deregister Failed AMI': 'after',
  'Keep Failed AMI': 'after',
  'Copy And Finish': 'after',
  'Finish AMI': 'after',
  'Copy To Regions': 'after',
  'Copy AMI': 'after',
  'Check AMI Copy': 'after',
  'AMI Copy Available?': 'after',
  'Wait For AMI Copy': 'after',
  'Finish AMI Copy': 'after',
  'Publish AMI IDs?': 'after',
  'Publish AMI IDs': 'after',
};

/** A state entered by one build, from the history: its name and its input (the build's state then). */
export interface EnteredState {
  name: string;
  input: unknown;
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/** The build name a state's input belongs to (`config.name`), if it is a build's state. */
export function buildNameOf(input: unknown): string | undefined {
  const name = record(record(input)?.config)?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * The step the build failed in: the last step state it entered before its failure path (history order).
 *
 * @returns the resume point, or why the build cannot be resumed
 */
export function failedStep(entered: readonly EnteredState[], buildName: string): ResumePoint | string {
  let last: { name: string; input: unknown } | undefined;
  for (const state of entered) {
    if (STEP_OF_STATE[state.name] === undefined || buildNameOf(state.input) !== buildName) continue;
    last = state;
  }
  if (last === undefined) return 'the history shows no step of this build';
  const step = STEP_OF_STATE[last.name]!;
  if (step === 'before') {
    return `it failed in "${last.name}", before provisioning started: nothing is worth keeping, run a new build`;
  }
  if (step === 'after') {
    return `it failed in "${last.name}", after the AMI was registered: run a new build (force_deregister replaces the AMI)`;
  }
  if (step !== 'provision') return { step };
  const index = record(last.input)?.provisionerIndex;
  return { step, provisionerIndex: typeof index === 'number' && Number.isInteger(index) ? index : 0 };
}

/** Keys of the config that decide the instance the build runs on (everything before provisioning). */
const LAUNCH_KEYS = [
  'region',
  'accountId',
  'sourceAmi',
  'sourceAmiFilter',
  'instanceType',
  'iamInstanceProfile',
  'temporaryIamPolicyDocument',
  'userData',
  'userDataFile',
  'network',
  'metadataOptions',
  'ebsOptimized',
  'enableUnlimitedCredits',
  'enableNitroEnclave',
  'placement',
  'capacityReservation',
  'licenseConfigurationArns',
  'launchBlockDeviceMappings',
  'runTags',
  'runAsUser',
] as const satisfies readonly (keyof BuildConfig)[];

/** A content-addressed file the CLI staged: its execution folder is not part of its identity. */
const STAGED_FILE = /staging\/[^/]+\/files\//g;

/** JSON with sorted keys and staged-file folders blanked: equal configs give equal text. */
function canonical(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.replace(STAGED_FILE, 'staging/*/files/'));
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const object = record(value);
  if (object !== undefined) {
    return `{${Object.keys(object)
      .filter((k) => object[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(object[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const digest = (value: unknown): string => createHash('sha256').update(canonical(value)).digest('hex');

const provisionerLabel = (p: Provisioner | undefined, index: number): string =>
  `provisioner ${index}${p === undefined ? '' : ` (${p.type}${p.name === p.type ? '' : ` "${p.name}"`})`}`;

/**
 * The digests of every step the build passes before `point`, in order: the launch, each provisioner before the
 * failed one (all of them when it failed after provisioning), the X.509 upload, the bundle, the upload.
 */
export function stepDigests(config: BuildConfig, point: ResumePoint): StepDigest[] {
  const launch: Record<string, unknown> = {};
  for (const key of LAUNCH_KEYS) launch[key] = config[key];
  launch.bundleBucket = { bucket: config.bundle.bucket, keyPrefix: config.bundle.keyPrefix };
  const steps: StepDigest[] = [
    {
      key: 'launch',
      label: 'the instance launch (source AMI, instance type, network, role, user data, bundle bucket)',
      digest: digest(launch),
    },
  ];
  const provisioners = point.step === 'provision' ? (point.provisionerIndex ?? 0) : Number.POSITIVE_INFINITY;
  config.provisioners.forEach((p, i) => {
    if (i < provisioners) {
      const { index: _index, ...rest } = p;
      steps.push({ key: `provisioner ${i}`, label: provisionerLabel(p, i), digest: digest(rest) });
    }
  });
  if (point.step === 'provision') return steps;
  steps.push({
    key: 'provisioners',
    label: 'the number of provisioners',
    digest: digest(config.provisioners.length),
  });
  if (point.step === 'x509') return steps;
  steps.push({ key: 'x509', label: 'the X.509 upload (x509_*)', digest: digest(config.x509) });
  if (point.step === 'bundle') return steps;
  steps.push({
    key: 'bundle',
    label: 'the bundle (bundle_vol_command, bundle_destination)',
    digest: digest({ command: config.bundle.volCommand, destination: config.bundle.destination }),
  });
  if (point.step === 'upload') return steps;
  steps.push({
    key: 'upload',
    label: 'the upload (bundle_upload_command)',
    digest: digest({ command: config.bundle.uploadCommand }),
  });
  return steps;
}

/** How a resume point is named in messages. */
export function describePoint(point: ResumePoint, config?: BuildConfig): string {
  switch (point.step) {
    case 'provision': {
      const i = point.provisionerIndex ?? 0;
      return provisionerLabel(config?.provisioners[i], i);
    }
    case 'x509':
      return 'the X.509 upload';
    case 'bundle':
      return 'the bundle';
    case 'upload':
      return 'the bundle upload';
    case 'register':
      return 'the AMI registration';
  }
}

/**
 * The steps before the failed one that the new template changed, each named, or none. Both configs are compared
 * at the failed build's resume point.
 */
export function changedSteps(
  failed: BuildConfig,
  current: BuildConfig,
  point: ResumePoint,
): { key: string; message: string }[] {
  const before = stepDigests(failed, point);
  const now = new Map(stepDigests(current, point).map((s) => [s.key, s]));
  const changed: { key: string; message: string }[] = [];
  for (const step of before) {
    const other = now.get(step.key);
    if (other === undefined) {
      changed.push({ key: step.key, message: `${step.label} is no longer in the template` });
    } else if (other.digest !== step.digest) {
      changed.push({ key: step.key, message: `the template changed ${step.label}` });
    }
  }
  for (const step of now.values()) {
    if (!before.some((s) => s.key === step.key)) {
      changed.push({ key: step.key, message: `the template added ${step.label}` });
    }
  }
  return changed;
}

/** What a resumed build adopts from the failed one: the pieces of its state the skipped steps had produced. */
export type KeptState = Required<Pick<BuildState, 'source' | 'bucket' | 'network' | 'instance'>> &
  Pick<BuildState, 'instanceRole'>;
