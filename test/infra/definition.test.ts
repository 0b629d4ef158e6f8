import { describe, expect, it } from 'vitest';
import { resolveDefinition } from '../../infra/definition.js';

const fn = (taskId: string, metadata: Record<string, unknown>) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Environment: { Variables: { STACK_NAME: 'AmiBuilder', STAGING_BUCKET: { Ref: 'Bucket' } } } },
  Metadata: { ...metadata, ...(taskId === '' ? {} : {}) },
});

const template = (definitionString: unknown) => ({
  Resources: {
    LaunchFn1234: fn('LaunchInstance', { 'ami-builder:task': 'LaunchInstance' }),
    CheckFnABCD: fn('CheckInstance', { 'aws:cdk:path': 'AmiBuilder/Tasks/CheckInstance/Resource' }),
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: definitionString } },
  },
});

describe('resolveDefinition', () => {
  it('joins the definition and turns function ARNs into task placeholders', () => {
    // Prepare
    const body = {
      'Fn::Join': [
        '',
        [
          '{"StartAt":"Launch Instance","States":{"Launch Instance":{"Type":"Task","Resource":"',
          { 'Fn::GetAtt': ['LaunchFn1234', 'Arn'] },
          '","Next":"Check"},"Check":{"Type":"Task","Resource":"',
          { 'Fn::GetAtt': ['CheckFnABCD', 'Arn'] },
          '","Comment":"arn:',
          { Ref: 'AWS::Partition' },
          ':',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          '","End":true}}}',
        ],
      ],
    };

    // Act
    const resolved = resolveDefinition(template(body), { region: 'eu-west-1', account: '111122223333' });

    // Assess
    expect(resolved.definition).toEqual({
      StartAt: 'Launch Instance',
      States: {
        'Launch Instance': {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-west-1:111122223333:function:LaunchInstance',
          Next: 'Check',
        },
        Check: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-west-1:111122223333:function:CheckInstance',
          Comment: 'arn:aws:eu-west-1:111122223333',
          End: true,
        },
      },
    });
    expect(resolved.functions).toEqual({
      'arn:aws:lambda:eu-west-1:111122223333:function:LaunchInstance': {
        taskId: 'LaunchInstance',
        environment: { STACK_NAME: 'AmiBuilder', STAGING_BUCKET: { Ref: 'Bucket' } },
      },
      'arn:aws:lambda:eu-west-1:111122223333:function:CheckInstance': {
        taskId: 'CheckInstance',
        environment: { STACK_NAME: 'AmiBuilder', STAGING_BUCKET: { Ref: 'Bucket' } },
      },
    });
  });

  it('uses the given partition', () => {
    const body = {
      'Fn::Join': [
        '',
        [
          '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"',
          { 'Fn::GetAtt': ['LaunchFn1234', 'Arn'] },
          '","End":true}}}',
        ],
      ],
    };
    const resolved = resolveDefinition(template(body), {
      region: 'cn-north-1',
      account: '1',
      partition: 'aws-cn',
    });
    expect(Object.keys(resolved.functions)).toContain(
      'arn:aws-cn:lambda:cn-north-1:1:function:LaunchInstance',
    );
  });

  it('accepts a definition that is plain text', () => {
    const resolved = resolveDefinition(template('{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}'), {
      region: 'r',
      account: 'a',
    });
    expect(resolved.definition).toEqual({ StartAt: 'A', States: { A: { Type: 'Succeed' } } });
  });

  it('fails when the definition references something it cannot resolve', () => {
    const body = { 'Fn::Join': ['', ['{"A":"', { Ref: 'SomeQueue' }, '"}']] };
    expect(() => resolveDefinition(template(body), { region: 'r', account: 'a' })).toThrow(
      /state machine Machine: cannot resolve \{"Ref":"SomeQueue"\}/,
    );
  });

  it('fails when the template has no state machine or several', () => {
    expect(() => resolveDefinition({ Resources: {} }, { region: 'r', account: 'a' })).toThrow(
      'expected one state machine in the template, found 0',
    );
  });

  it('fails when a task function names no known task', () => {
    const bad = {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Metadata: { 'aws:cdk:path': 'AmiBuilder/Tasks/Unknown/Resource' },
        },
        Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: '{}' } },
      },
    };
    expect(() => resolveDefinition(bad, { region: 'r', account: 'a' })).toThrow(/function Fn names no task/);
  });
});
