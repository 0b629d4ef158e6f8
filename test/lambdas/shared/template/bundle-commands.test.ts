import { describe, expect, it } from 'vitest';
import { TemplateValidationError } from '../../../../lambdas/shared/errors.js';
import {
  BUNDLE_UPLOAD_VARIABLES,
  BUNDLE_VOL_VARIABLES,
  DEFAULT_BUNDLE_UPLOAD_COMMAND,
  DEFAULT_BUNDLE_VOL_COMMAND,
  renderBundleUploadCommand,
  renderBundleVolCommand,
} from '../../../../lambdas/shared/template/bundle-commands.js';
import { builder, config, problems, warnings } from './helpers.js';

const VOL = {
  AccountId: '123456789012',
  Architecture: 'x86_64',
  CertPath: '/tmp/cert.pem',
  Destination: '/tmp',
  KeyPath: '/tmp/key.pem',
  Prefix: 'image-1752570000',
  PrivatePath: '/tmp',
};
const UPLOAD = {
  BucketName: 'my-bundles/amis',
  BundleDirectory: '/tmp',
  ManifestPath: '/tmp/image-1752570000.manifest.xml',
  Region: 'eu-west-1',
};

describe('bundle commands', () => {
  it("keeps Packer's default bundle_vol_command, one line", () => {
    expect(DEFAULT_BUNDLE_VOL_COMMAND).toBe(
      'sudo -i -n ec2-bundle-vol -k {{.KeyPath}} -u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} -e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter',
    );
    expect(BUNDLE_VOL_VARIABLES).toEqual([
      'AccountId',
      'Architecture',
      'CertPath',
      'Destination',
      'KeyPath',
      'Prefix',
      'PrivatePath',
    ]);
    expect(BUNDLE_UPLOAD_VARIABLES).toEqual([
      'AccessKey',
      'BucketName',
      'BundleDirectory',
      'ManifestPath',
      'Region',
      'SecretKey',
      'Token',
      'S3Endpoint',
    ]);
  });

  it('renders the default bundle_vol_command with the values', () => {
    expect(renderBundleVolCommand(DEFAULT_BUNDLE_VOL_COMMAND, VOL)).toBe(
      'sudo -i -n ec2-bundle-vol -k /tmp/key.pem -u 123456789012 -c /tmp/cert.pem -r x86_64 -e /tmp/* -d /tmp -p image-1752570000 --batch --no-filter',
    );
  });

  it('renders the credentials as shell variables the on-instance script fills, never as values', () => {
    expect(renderBundleUploadCommand(DEFAULT_BUNDLE_UPLOAD_COMMAND, UPLOAD)).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a JS template
      'sudo -i -n ec2-upload-bundle -b my-bundles/amis -m /tmp/image-1752570000.manifest.xml -a "${AMI_BUILDER_ACCESS_KEY}" -s "${AMI_BUILDER_SECRET_KEY}" -t "${AMI_BUILDER_SESSION_TOKEN}" -d /tmp --batch --region eu-west-1 --retry',
    );
  });

  it('renders the retired S3Endpoint as the regional endpoint', () => {
    expect(renderBundleUploadCommand('ec2-upload-bundle --url {{.S3Endpoint}}', UPLOAD)).toBe(
      'ec2-upload-bundle --url https://s3.eu-west-1.amazonaws.com',
    );
  });

  it("keeps a user's own quoting working", () => {
    expect(renderBundleVolCommand('sudo sh -c \'ec2-bundle-vol -p "{{.Prefix}}"\'', VOL)).toBe(
      'sudo sh -c \'ec2-bundle-vol -p "image-1752570000"\'',
    );
  });

  it('renders user variables and functions with the context it is given', () => {
    expect(
      renderBundleVolCommand('{{user `tools`}}/ec2-bundle-vol -p {{.Prefix}} # {{timestamp}}', VOL, {
        userVariables: { tools: '/opt/ec2/bin' },
        now: new Date('2025-07-15T09:00:00Z'),
        uuidSeed: 'e',
      }),
    ).toBe('/opt/ec2/bin/ec2-bundle-vol -p image-1752570000 # 1752570000');
  });

  it('quotes a user variable as one word outside quotes, and escapes it inside the user’s quotes', () => {
    // Act
    const command = renderBundleVolCommand(
      'ec2-bundle-vol -p {{user `v`}} -r \'{{user `v`}}\' -u "{{user `v`}}"',
      VOL,
      { userVariables: { v: `--no-filter; touch "$HOME"'s` } },
    );

    // Assess
    expect(command).toBe(
      `ec2-bundle-vol -p '--no-filter; touch "$HOME"'\\''s' -r '--no-filter; touch "$HOME"'\\''s' -u "--no-filter; touch \\"\\$HOME\\"'s"`,
    );
  });

  it('passes a credential inside the user’s single quotes as its value, never as a variable name', () => {
    // Act
    const command = renderBundleUploadCommand(
      'ec2-upload-bundle -a \'{{.AccessKey}}\' -s "{{.SecretKey}}"',
      UPLOAD,
    );

    // Assess
    expect(command).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a JS template
      'ec2-upload-bundle -a \'\'"${AMI_BUILDER_ACCESS_KEY}"\'\' -s "${AMI_BUILDER_SECRET_KEY}"',
    );
  });

  it('fails when a credential is printed inside a larger value', () => {
    expect(() =>
      renderBundleUploadCommand('ec2-upload-bundle -a {{.AccessKey | printf "x%s"}}', UPLOAD),
    ).toThrow('a credential may only be printed on its own');
  });

  it.each(['x86_64; reboot', '$(id)', 'a b', '`id`', "it's", 'a|b', 'a>b', 'a&b', 'a\nb'])(
    'fails when a value holds shell syntax: %j',
    (architecture) => {
      expect(() =>
        renderBundleVolCommand(DEFAULT_BUNDLE_VOL_COMMAND, { ...VOL, Architecture: architecture }),
      ).toThrow(TemplateValidationError);
    },
  );

  it('fails when a value of the upload command holds shell syntax', () => {
    expect(() =>
      renderBundleUploadCommand(DEFAULT_BUNDLE_UPLOAD_COMMAND, { ...UPLOAD, BucketName: 'b;reboot' }),
    ).toThrow('the value of {{.BucketName}} may only contain letters, digits and _ . / : @ % + = , -');
  });
});

describe('bundle commands at validation', () => {
  it('warns about {{.S3Endpoint}} and about credentials without a token', () => {
    // Prepare
    const input = builder({
      bundle_upload_command:
        'ec2-upload-bundle -b {{.BucketName}} -a {{.AccessKey}} -s {{.SecretKey}} --url {{.S3Endpoint}}',
    });

    // Act
    const warned = warnings(input).join('\n');

    // Assess
    expect(warned).toContain('{{.S3Endpoint}} was retired by Packer in 2014');
    expect(warned).toContain('without -t {{.Token}}');
  });

  it('fails in Validate Template when a user variable cannot be quoted where the command puts it', () => {
    // Prepare
    const input = {
      variables: { v: 'a b', nl: 'x\ntouch marker' },
      builders: [
        builder({
          bundle_vol_command: 'ec2-bundle-vol -p $(date +%s){{user `v`}}',
          bundle_upload_command: 'ec2-upload-bundle -b {{.BucketName}} # {{user `nl`}}',
        }),
      ],
    };

    // Act
    const found = problems(input);

    // Assess
    expect(found).toContainEqual(
      expect.stringMatching(
        /builders\[0\]: bundle_vol_command: \{\{user `v`\}\} \(line 1, column 30\) comes after "\$\(", whose quoting this system does not follow/,
      ),
    );
    expect(found).toContainEqual(
      expect.stringMatching(
        /builders\[0\]: bundle_upload_command: \{\{user `nl`\}\} .*is in a comment, where a newline/,
      ),
    );
    expect(found.join('\n')).not.toContain('touch marker');
  });

  it('keeps the user variables a bundle command uses in lateVariables', () => {
    expect(
      config({
        variables: { tools: '/opt/bin', other: 'x' },
        builders: [builder({ bundle_vol_command: '{{user `tools`}}/ec2-bundle-vol -p {{.Prefix}}' })],
      }).lateVariables,
    ).toEqual({ tools: '/opt/bin' });
  });
});
