import { RemovalPolicy } from 'aws-cdk-lib';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { commandDocumentContent } from '../../lambdas/shared/command-document.js';

export interface CommandDocumentProps {
  /** Retention of the command output log group. */
  readonly logRetention: RetentionDays;
}

/**
 * How builds run commands on the instance: the stack's SSM command document (content from
 * `lambdas/shared/command-document.ts`: download a staged S3 folder with the instance role, run its `run.sh`) and
 * the log group the SSM agent streams every command's full output to (`COMMAND_LOG_GROUP`), with the configured
 * retention, removed with the stack.
 */
export class CommandDocument extends Construct {
  readonly document: CfnDocument;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: CommandDocumentProps) {
    super(scope, id);
    this.document = new CfnDocument(this, 'Resource', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: commandDocumentContent,
    });
    this.logGroup = new LogGroup(this, 'Output', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** The document's name (what SendCommand's `DocumentName` takes). */
  get documentName(): string {
    return this.document.ref;
  }
}
