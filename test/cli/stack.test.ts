import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { findStackOutputs, StackLookupError } from '../../cli/stack.js';
import { awsError } from '../lambdas/fixtures.js';

const cfnMock = mockClient(CloudFormationClient);
const cfn = new CloudFormationClient({ region: 'eu-west-1' });

const OUTPUTS = [
  {
    OutputKey: 'StateMachineArn',
    OutputValue: 'arn:aws:states:eu-west-1:123456789012:stateMachine:AmiBuilder',
  },
  { OutputKey: 'StagingBucketName', OutputValue: 'amibuilder-staging' },
  {
    OutputKey: 'InstanceRoleBoundaryArn',
    OutputValue: 'arn:aws:iam::123456789012:policy/ami-builder/AmiBuilder/Boundary',
  },
  { OutputKey: 'CommandLogGroupName', OutputValue: '/ami-builder/commands' },
  { OutputKey: 'CommandDocumentName', OutputValue: 'AmiBuilder-RunStagedCommand' },
  { OutputKey: 'SweepFunctionName', OutputValue: 'AmiBuilder-TasksSweepOrphans' },
  { OutputKey: 'RetentionFunctionName', OutputValue: 'AmiBuilder-TasksApplyRetention' },
];

afterEach(() => {
  cfnMock.reset();
});

describe('findStackOutputs', () => {
  it('reads every output of the named stack', async () => {
    // Prepare
    cfnMock.on(DescribeStacksCommand, { StackName: 'AmiBuilder' }).resolves({
      Stacks: [
        {
          StackName: 'AmiBuilder',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: OUTPUTS,
        },
      ],
    });

    // Act
    const outputs = await findStackOutputs(cfn, 'AmiBuilder');

    // Assess
    expect(outputs).toEqual({
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:AmiBuilder',
      stagingBucketName: 'amibuilder-staging',
      instanceRoleBoundaryArn: 'arn:aws:iam::123456789012:policy/ami-builder/AmiBuilder/Boundary',
      commandLogGroupName: '/ami-builder/commands',
      commandDocumentName: 'AmiBuilder-RunStagedCommand',
      sweepFunctionName: 'AmiBuilder-TasksSweepOrphans',
      retentionFunctionName: 'AmiBuilder-TasksApplyRetention',
    });
  });

  it('returns only the outputs asked for', async () => {
    // Prepare
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'X',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: OUTPUTS.slice(0, 1),
        },
      ],
    });

    // Act
    const outputs = await findStackOutputs(cfn, 'X', ['stateMachineArn']);

    // Assess
    expect(outputs).toEqual({ stateMachineArn: OUTPUTS[0]!.OutputValue });
  });

  it('fails with the stack name, the region and what to do when the stack does not exist', async () => {
    // Prepare
    cfnMock
      .on(DescribeStacksCommand)
      .rejects(awsError('ValidationError', 'Stack with id Nope does not exist'));

    // Act
    const error = await findStackOutputs(cfn, 'Nope').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StackLookupError);
    expect((error as Error).message).toBe(
      'stack "Nope" was not found in eu-west-1: deploy it with "npx cdk deploy", or name the deployed stack with --stack NAME and its region with --region R',
    );
  });

  it('fails naming the missing output, the stack status and the outputs there are', async () => {
    // Prepare
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Other',
          StackStatus: 'ROLLBACK_COMPLETE',
          CreationTime: new Date(),
          Outputs: [{ OutputKey: 'Url', OutputValue: 'x' }],
        },
      ],
    });

    // Act
    const error = await findStackOutputs(cfn, 'Other', ['stateMachineArn', 'stagingBucketName']).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(StackLookupError);
    expect((error as Error).message).toBe(
      'stack "Other" (status ROLLBACK_COMPLETE) has no output StateMachineArn, StagingBucketName (outputs: Url): is it an ami-builder stack? Deploy the current version with "npx cdk deploy"',
    );
  });

  it('passes other errors through unchanged', async () => {
    // Prepare
    cfnMock
      .on(DescribeStacksCommand)
      .rejects(awsError('ExpiredToken', 'The security token included in the request is expired'));

    // Act
    const error = await findStackOutputs(cfn, 'AmiBuilder').catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'ExpiredToken' });
  });
});
