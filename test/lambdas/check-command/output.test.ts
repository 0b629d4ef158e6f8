import { describe, expect, it } from 'vitest';
import { outputExcerpt, scrubSecrets, tailLines } from '../../../lambdas/check-command/output.js';

describe('scrubSecrets', () => {
  it.each([
    ['an access key id', 'key ASIAFAKEACCESSKEY001 used', 'key [REDACTED] used'],
    ['a secret access key', 'secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.', 'secret [REDACTED].'],
    [
      'a -s flag value',
      'ec2-upload-bundle -a x -s abc/def -d /tmp',
      'ec2-upload-bundle -a x -s [REDACTED] -d /tmp',
    ],
    ['a -t flag value', 'run -t FwoGZXIvYXdzE', 'run -t [REDACTED]'],
    ['a session token', `x ${'A'.repeat(60)}${'b/+'.repeat(20)} y`, 'x [REDACTED] y'],
    ['a key=value credential', 'aws_secret_access_key = abc123', 'aws_secret_access_key = [REDACTED]'],
    ['a JSON credential', '"SecretAccessKey" : "abc"', '"SecretAccessKey" : "[REDACTED]"'],
    [
      'a presigned URL signature',
      'GET /k?X-Amz-Signature=abcdef&X-Amz-Date=1',
      'GET /k?X-Amz-Signature=[REDACTED]&X-Amz-Date=1',
    ],
  ])('removes %s', (_, input, expected) => {
    expect(scrubSecrets(input)).toBe(expected);
  });

  it('removes a whole PEM block, also one cut off before its end', () => {
    // Act
    const whole = scrubSecrets('a\n-----BEGIN PRIVATE KEY-----\nMIIE\nabc\n-----END PRIVATE KEY-----\nb');
    const cut = scrubSecrets('a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc');

    // Assess
    expect(whole).toBe('a\n[REDACTED PEM BLOCK]\nb');
    expect(cut).toBe('a\n[REDACTED PEM BLOCK]');
  });

  it('keeps ordinary output: hashes, paths and words', () => {
    // Prepare
    const text = 'sha1 0123456789abcdef0123456789abcdef01234567\n/usr/lib/x86_64-linux-gnu/libfoo.so.1 done';

    // Act, Assess
    expect(scrubSecrets(text)).toBe(text);
  });
});

describe('tailLines', () => {
  it('keeps the last lines, ignoring the final newlines', () => {
    expect(tailLines('a\nb\nc\n\n', 2)).toEqual(['b', 'c']);
  });

  it('returns nothing for empty output', () => {
    expect(tailLines('')).toEqual([]);
  });

  it('cuts very long lines', () => {
    // Act
    const [line] = tailLines('x'.repeat(1000));

    // Assess
    expect(line).toHaveLength(301);
    expect(line?.endsWith('…')).toBe(true);
  });
});

describe('outputExcerpt', () => {
  it('quotes stderr before stdout, indented', () => {
    expect(outputExcerpt('out', 'err')).toBe('Last lines of stderr:\n  err\n\nLast lines of stdout:\n  out');
  });

  it('says when the command printed nothing', () => {
    expect(outputExcerpt(undefined, '')).toBe('The command printed nothing.');
  });
});
