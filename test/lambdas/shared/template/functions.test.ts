import { describe, expect, it } from 'vitest';
import { renderTemplate, TemplateRenderError } from '../../../../lambdas/shared/template/engine.js';
import {
  cleanResourceName,
  type FunctionOptions,
  PACKER_VERSION,
  packerFunctions,
} from '../../../../lambdas/shared/template/functions.js';
import { seededUuid } from '../../../../lambdas/shared/template/uuid.js';

// 2024-03-05T07:08:09.123Z
const NOW = new Date(Date.UTC(2024, 2, 5, 7, 8, 9, 123));

function counterUuid(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
}

function render(template: string, options: Partial<FunctionOptions> = {}): string {
  const funcs = packerFunctions({
    now: NOW,
    uuid: counterUuid(),
    userVariables: { region: 'eu-west-1' },
    ...options,
  });
  return renderTemplate(template, {}, funcs);
}

describe('packerFunctions', () => {
  describe('timestamp and isotime', () => {
    it('renders timestamp as the Unix seconds of the pinned clock', () => {
      expect(render('image-{{timestamp}}')).toBe('image-1709622489');
    });

    it('renders isotime without an argument as RFC 3339 in UTC', () => {
      expect(render('{{isotime}}')).toBe('2024-03-05T07:08:09Z');
    });

    it('renders isotime with a Go layout', () => {
      expect(render('{{isotime "2006-01-02"}} {{ isotime `15:04:05.000 MST` }}')).toBe(
        '2024-03-05 07:08:09.123 UTC',
      );
    });

    it('fails when isotime gets more than one layout, with Packer’s message', () => {
      expect(() => render('{{isotime "2006" "01"}}')).toThrow(
        'template: error calling isotime: too many values, 1 needed: [2006 01]',
      );
    });

    it('fails when isotime gets a number, as Go’s type check does', () => {
      expect(() => render('{{isotime 2006}}')).toThrow('wrong type for value; expected string; got int');
    });

    it('fails when timestamp gets an argument', () => {
      expect(() => render('{{timestamp 1}}')).toThrow(
        'template: wrong number of args for timestamp: want 0 got 1',
      );
    });
  });

  describe('uuid', () => {
    it('takes each uuid from the generator it is given', () => {
      expect(render('{{uuid}} {{uuid}}')).toBe(
        '00000000-0000-4000-8000-000000000001 00000000-0000-4000-8000-000000000002',
      );
    });

    it('renders the same names for the same seed, so retried tasks agree', () => {
      // Act
      const first = render('{{uuid}}/{{uuid}}', { uuid: seededUuid('exec-1') });
      const again = render('{{uuid}}/{{uuid}}', { uuid: seededUuid('exec-1') });
      const other = render('{{uuid}}/{{uuid}}', { uuid: seededUuid('exec-2') });

      // Assess
      expect(first).toBe(again);
      expect(first).not.toBe(other);
      expect(first).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\/[0-9a-f-]{36}$/,
      );
    });
  });

  describe('user', () => {
    it('renders a user variable in the double-quoted, backtick and piped forms', () => {
      expect(render('{{user "region"}} {{user `region`}} {{ "region" | user }}')).toBe(
        'eu-west-1 eu-west-1 eu-west-1',
      );
    });

    it('fails when the variable is not set, with Packer’s message', () => {
      expect(() => render('{{user `missing`}}')).toThrow(
        'template: error calling user: Error: variable not set: missing',
      );
    });

    it('fails when the name is an Object.prototype key rather than a variable', () => {
      expect(() => render('{{user "constructor"}}')).toThrow('Error: variable not set: constructor');
      expect(() => render('{{user "__proto__"}}')).toThrow('Error: variable not set: __proto__');
    });

    it('fails when called without a name', () => {
      expect(() => render('{{user}}')).toThrow('template: wrong number of args for user: want 1 got 0');
    });
  });

  describe('env, template_dir, pwd and build', () => {
    it('fails when env is used inside the workflow, saying where it works', () => {
      expect(() => render('{{env `HOME`}}')).toThrow(
        '{{env}} is resolved only by the ami-builder CLI (validate, build, local), in variable defaults; inside the workflow pass the value as a variable instead',
      );
    });

    it('reads env from the CLI’s lookup, and renders an unset variable as empty', () => {
      // Prepare
      const env = (name: string) => ({ HOME: '/home/ci' })[name];

      // Act
      const rendered = render('[{{env `HOME`}}][{{env `UNSET`}}]', { env });

      // Assess
      expect(rendered).toBe('[/home/ci][]');
    });

    it('fails when template_dir or pwd are used outside the CLI', () => {
      expect(() => render('{{template_dir}}')).toThrow(
        '{{template_dir}} is resolved only by the ami-builder CLI',
      );
      expect(() => render('{{pwd}}')).toThrow('{{pwd}} is resolved only by the ami-builder CLI');
    });

    it('renders template_dir and pwd when the CLI provides them', () => {
      expect(render('{{template_dir}}:{{pwd}}', { templateDir: '/src/t', pwd: '/work' })).toBe(
        '/src/t:/work',
      );
    });

    it('renders build variables from the build callback', () => {
      // Prepare
      const build = (name: string) => `<${name}>`;

      // Act
      const rendered = render('{{ build `SourceAMIName` }}', { build });

      // Assess
      expect(rendered).toBe('<SourceAMIName>');
    });

    it('fails when build variables are not available', () => {
      expect(() => render('{{ build `SourceAMIName` }}')).toThrow(
        'error calling build: the build variable SourceAMIName is not available here',
      );
    });

    it('fails when build_name and build_type are not available, with Packer’s messages', () => {
      expect(() => render('{{build_name}}')).toThrow('build_name not available');
      expect(() => render('{{build_type}}')).toThrow('build_type not available');
      expect(render('{{build_name}}/{{build_type}}', { buildName: 'b', buildType: 'amazon-instance' })).toBe(
        'b/amazon-instance',
      );
    });
  });

  describe('packer_version', () => {
    it('renders the documented version unless one is given', () => {
      expect(render('{{packer_version}}')).toBe(PACKER_VERSION);
      expect(render('{{packer_version}}', { packerVersion: '1.9.4' })).toBe('1.9.4');
    });
  });

  describe('clean_resource_name', () => {
    it.each([
      ["AMZamz09()./-_:&^ $%[]#'@", "AMZamz09()./-_--- --[]-'@"],
      ['a*b?c', 'a-b-c'],
      ['packer-2024-03-05T07:08:09Z', 'packer-2024-03-05T07-08-09Z'],
      ['tab\there', 'tab-here'],
      ['', ''],
    ])('cleans %j as Packer does', (input, expected) => {
      expect(cleanResourceName(input)).toBe(expected);
    });

    it('replaces each UTF-8 byte of a non-ASCII character, as Packer’s byte loop does', () => {
      expect(cleanResourceName('é€😀x')).toBe(`${'-'.repeat(2 + 3 + 4)}x`);
    });

    it('cleans a piped isotime, the pattern Packer’s documentation shows', () => {
      expect(render('Example-{{isotime | clean_resource_name}}')).toBe('Example-2024-03-05T07-08-09Z');
    });

    it('keeps clean_ami_name as the older name of the same function', () => {
      expect(render('{{ clean_ami_name "a:b" }}')).toBe('a-b');
    });
  });

  describe('string functions', () => {
    it('converts case rune by rune, as Go’s strings.ToUpper and ToLower do', () => {
      expect(render('{{ upper "abc-é-ß" }} {{ lower "ABC-É-İ" }}')).toBe('ABC-É-ß abc-é-i');
    });

    it.each([
      ['{{ replace "a" "b" 1 "aaa" }}', 'baa'],
      ['{{ replace "a" "b" -1 "aaa" }}', 'bbb'],
      ['{{ replace "a" "b" 0 "aaa" }}', 'aaa'],
      ['{{ replace "a" "b" 5 "aaa" }}', 'bbb'],
      ['{{ replace "" "-" 2 "abc" }}', '-a-bc'],
      ['{{ replace "" "-" -1 "abc" }}', '-a-b-c-'],
      ['{{ replace_all "." "-" "1.2.3" }}', '1-2-3'],
      ['{{ "1.2.3" | replace_all "." "" }}', '123'],
      ['{{ "x.y" | replace "." "_" 1 }}', 'x_y'],
    ])('replaces as Go’s strings.Replace: %s', (template, expected) => {
      expect(render(template)).toBe(expected);
    });

    it('fails when replace gets its count as a string', () => {
      expect(() => render('{{ replace "a" "b" "1" "aaa" }}')).toThrow(
        'template: wrong type for value; expected int; got string (argument 3 of replace)',
      );
    });

    it('fails when a replacement would exceed the output limit', () => {
      expect(() =>
        render('{{ replace "" "0123456789012345678901234567890123456789" -1 (printf "%050000d" 0) }}'),
      ).toThrow(/error calling replace: the result would be \d+ characters long; the limit is 1048576/);
    });

    it('splits and picks one part, as Packer’s split does', () => {
      expect(render('{{ split "a-b-c" "-" 0 }}{{ split "a-b-c" "-" 2 }}{{ split "héllo" "" 1 }}')).toBe(
        'acé',
      );
    });

    it('fails when split has too few parts, with Packer’s message', () => {
      expect(() => render('{{ split "a-b" "-" 5 }}')).toThrow(
        'error calling split: the substring 5 was unavailable using the separator value, -, only 2 values were found',
      );
    });

    it('fails when split gets a negative index, as the Go runtime does', () => {
      expect(() => render('{{ split "a-b" "-" -1 }}')).toThrow('runtime error: index out of range [-1]');
    });
  });

  describe('functions Packer refuses outside variables', () => {
    it('fails on sed with Packer’s deprecation message', () => {
      expect(() => render('{{ sed "s/a/b/" "a" }}')).toThrow('template function `sed` is deprecated');
    });

    it.each([
      ['{{ vault "secret/x" "k" }}', 'Vault vars are only allowed in the variables section'],
      ['{{ consul_key "k" }}', 'consul_key is not allowed here'],
      ['{{ aws_secretsmanager "s" }}', 'AWS Secrets Manager is only allowed in the variables section'],
      ['{{ aws_secretsmanager_raw "s" }}', 'AWS Secrets Manager is only allowed in the variables section'],
    ])('fails on %s', (template, message) => {
      expect(() => render(template)).toThrow(message);
    });
  });

  it('throws only TemplateRenderError from a failing function', () => {
    // Act
    const error = (() => {
      try {
        render('{{user "nope"}}');
      } catch (caught) {
        return caught;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect((error as Error).name).toBe('TemplateRenderError');
  });
});

describe('seededUuid', () => {
  it('derives the n-th uuid from sha256(seed:n), counting from 0', () => {
    // Prepare
    const next = seededUuid('seed');

    // Act
    const [first, second] = [next(), next()];

    // Assess: sha256("seed:0") = 58f9082d b66a 15d6 60a3 f65e1e2f12c3…; byte 6 gets version 4 (15 → 45) and
    // byte 8 the RFC 4122 variant (60 → a0). sha256("seed:1") = 81e4ba3b c209 7d85 ac47 34eb3ad794fd….
    expect(first).toBe('58f9082d-b66a-45d6-a0a3-f65e1e2f12c3');
    expect(second).toBe('81e4ba3b-c209-4d85-ac47-34eb3ad794fd');
    expect(seededUuid('seed')()).toBe(first);
  });
});
