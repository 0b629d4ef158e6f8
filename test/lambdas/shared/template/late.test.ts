import { describe, expect, it } from 'vitest';
import { type BuildVariables, renderLate } from '../../../../lambdas/shared/template/late.js';
import { builder, config, NOW, NOW_UNIX } from './helpers.js';

const BUILD: BuildVariables = {
  BuildRegion: 'us-east-1',
  SourceAMI: 'ami-0123456789abcdef0',
  SourceAMIName: 'ubuntu-trusty',
  SourceAMIOwner: '099720109477',
  SourceAMIOwnerName: 'amazon',
  SourceAMICreationDate: '2024-01-02T03:04:05.000Z',
  SourceAMITags: { os: 'ubuntu', 'team:name': 'web' },
};

describe('late rendering', () => {
  const context = {
    buildVariables: BUILD,
    userVariables: { version: '1.2' },
    now: NOW,
    uuidSeed: 'execution-1',
  };

  it('renders the build variables, the source tags and user variables', () => {
    expect(
      renderLate(
        '{{.SourceAMIName}} ({{.SourceAMI}}) in {{.BuildRegion}} by {{.SourceAMIOwnerName}}/{{.SourceAMIOwner}}',
        context,
      ),
    ).toBe('ubuntu-trusty (ami-0123456789abcdef0) in us-east-1 by amazon/099720109477');
    expect(
      renderLate('{{.SourceAMITags.os}} {{index .SourceAMITags "team:name"}} v{{user `version`}}', context),
    ).toBe('ubuntu web v1.2');
    expect(renderLate('{{.SourceAMICreationDate}} {{timestamp}}', context)).toBe(
      `2024-01-02T03:04:05.000Z ${NOW_UNIX}`,
    );
  });

  it('returns plain text as it is', () => {
    expect(renderLate('just text', context)).toBe('just text');
  });

  it('renders the same uuid for the same text and execution', () => {
    expect(renderLate('{{uuid}}', context)).toBe(renderLate('{{uuid}}', context));
    expect(renderLate('{{uuid}}', context)).not.toBe(
      renderLate('{{uuid}}', { ...context, uuidSeed: 'execution-2' }),
    );
  });

  it('renders an unknown user variable as empty, as validation warned', () => {
    expect(renderLate('v{{user `nope`}}', context)).toBe('v');
  });

  it('renders what validation kept, with what validation kept', () => {
    // Prepare
    const built = config({
      variables: { team: 'web' },
      builders: [builder({ tags: { Team: '{{user `team`}}', Base: '{{.SourceAMIName}}' } })],
    });

    // Act
    const tags = Object.fromEntries(
      Object.entries(built.tags).map(([k, v]) => [
        renderLate(k, { ...context, userVariables: built.lateVariables }),
        renderLate(v, { ...context, userVariables: built.lateVariables }),
      ]),
    );

    // Assess
    expect(tags).toEqual({ Team: 'web', Base: 'ubuntu-trusty' });
  });
});
