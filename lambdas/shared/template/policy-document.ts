/**
 * `temporary_iam_instance_profile_policy_document`: Packer's `PolicyDocument { Version, Statement[{ Effect,
 * Action[], Resource[] }] }`, checked here so that a bad document fails in Validate Template, before anything is
 * created, instead of at PutRolePolicy. `Sid` and `Condition` are accepted too (IAM reads them; dropping a
 * `Condition` would widen the statement).
 */
import type { IamPolicyDocument, IamPolicyStatement } from '../config.js';
import { describeValue, type Path, type Report, truncate } from './decode.js';

const KEY = 'temporary_iam_instance_profile_policy_document';
const VERSIONS = ['2012-10-17', '2008-10-17'];
const STATEMENT_KEYS = ['Sid', 'Effect', 'Action', 'Resource', 'Condition'];

/**
 * The most characters (without whitespace) the document may have. A role's inline policies together may have
 * 10,240; the build's own policy takes fewer than 3,000 of them.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 */
export const MAX_POLICY_DOCUMENT_CHARS = 7000;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function stringOrList(
  value: unknown,
  path: Path,
  what: string,
  report: Report,
): string | string[] | undefined {
  const ok = (s: unknown) => typeof s === 'string' && s.trim() !== '';
  if (ok(value)) return value as string;
  if (Array.isArray(value) && value.length > 0 && value.every(ok)) return value as string[];
  report.error(
    path,
    `${KEY}: ${what} must be a non-empty string or list of strings, got ${describeValue(value)}`,
  );
  return undefined;
}

function conditionBlock(value: unknown, path: Path, report: Report): IamPolicyStatement['Condition'] {
  const scalar = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);
  const valid =
    isRecord(value) &&
    Object.values(value).every(
      (operator) =>
        isRecord(operator) &&
        Object.values(operator).every((v) => scalar(v) || (Array.isArray(v) && v.every(scalar))),
    );
  if (!valid) {
    report.error(
      path,
      `${KEY}: Condition must map operators to { key: value or list of values }, got ${describeValue(value)}`,
    );
    return undefined;
  }
  return value as IamPolicyStatement['Condition'];
}

function statement(value: unknown, path: Path, report: Report): IamPolicyStatement | undefined {
  if (!isRecord(value)) {
    report.error(path, `${KEY}: each Statement must be an object, got ${describeValue(value)}`);
    return undefined;
  }
  const before = report.problems.length;
  const unknown = Object.keys(value).filter((k) => !STATEMENT_KEYS.includes(k));
  if (unknown.length > 0) {
    report.error(
      path,
      `${KEY}: unknown statement key(s) ${unknown.map((k) => truncate(k, 40)).join(', ')}; a statement has ${STATEMENT_KEYS.join(', ')}`,
    );
  }
  if (value.Effect !== 'Allow' && value.Effect !== 'Deny') {
    report.error(
      [...path, 'Effect'],
      `${KEY}: Effect must be "Allow" or "Deny", got ${describeValue(value.Effect)}`,
    );
  }
  const action = stringOrList(value.Action, [...path, 'Action'], 'Action', report);
  const resource = stringOrList(value.Resource, [...path, 'Resource'], 'Resource', report);
  if (value.Sid !== undefined && (typeof value.Sid !== 'string' || !/^[A-Za-z0-9]*$/.test(value.Sid))) {
    report.error([...path, 'Sid'], `${KEY}: Sid must be letters and digits, got ${describeValue(value.Sid)}`);
  }
  const condition =
    value.Condition === undefined
      ? undefined
      : conditionBlock(value.Condition, [...path, 'Condition'], report);
  if (report.problems.length > before || action === undefined || resource === undefined) return undefined;
  return {
    ...(value.Sid === undefined ? {} : { Sid: value.Sid as string }),
    Effect: value.Effect as 'Allow' | 'Deny',
    Action: action,
    Resource: resource,
    ...(condition === undefined ? {} : { Condition: condition }),
  };
}

/**
 * Checks the document and returns it normalized (`Version` defaults to `2012-10-17`), or `undefined` after
 * reporting every problem with its key path.
 */
export function parsePolicyDocument(
  value: Record<string, unknown>,
  path: Path,
  report: Report,
): IamPolicyDocument | undefined {
  const before = report.problems.length;
  const unknown = Object.keys(value).filter((k) => k !== 'Version' && k !== 'Statement');
  if (unknown.length > 0) {
    report.error(
      path,
      `${KEY}: unknown key(s) ${unknown.map((k) => truncate(k, 40)).join(', ')}; a policy document has Version and Statement`,
    );
  }
  const version = value.Version ?? '2012-10-17';
  if (typeof version !== 'string' || !VERSIONS.includes(version)) {
    report.error(
      [...path, 'Version'],
      `${KEY}: Version must be one of ${VERSIONS.join(', ')}, got ${describeValue(version)}`,
    );
  }
  const statements: IamPolicyStatement[] = [];
  if (!Array.isArray(value.Statement) || value.Statement.length === 0) {
    report.error(
      [...path, 'Statement'],
      `${KEY}: Statement must be a non-empty list of statements, got ${describeValue(value.Statement)}`,
    );
  } else {
    for (const [i, entry] of value.Statement.entries()) {
      const s = statement(entry, [...path, 'Statement', i], report);
      if (s !== undefined) statements.push(s);
    }
  }
  if (report.problems.length > before) return undefined;
  const document: IamPolicyDocument = { Version: version as string, Statement: statements };
  const size = JSON.stringify(document).length;
  if (size > MAX_POLICY_DOCUMENT_CHARS) {
    report.error(
      path,
      `${KEY}: the document has ${size} characters, at most ${MAX_POLICY_DOCUMENT_CHARS} are allowed (IAM allows 10,240 for all of a role's inline policies, and the build's own policy is one of them)`,
    );
    return undefined;
  }
  return document;
}
