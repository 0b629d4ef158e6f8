import { describe, expect, it } from 'vitest';
import { ErrorClasses, ErrorNames } from '../../../lambdas/shared/errors.js';

describe('errors', () => {
  it('gives every error class the name listed in ErrorNames', () => {
    // Prepare
    const keys = Object.keys(ErrorNames) as (keyof typeof ErrorNames)[];

    // Act
    const names = keys.map((k) => new (ErrorClasses[k] as new (m: string) => Error)('message').name);

    // Assess
    expect(names).toEqual(keys.map((k) => ErrorNames[k]));
    expect(Object.keys(ErrorClasses).sort()).toEqual([...keys].sort());
  });

  it('keeps each name equal to its class name, so bundling with keepNames cannot drift', () => {
    for (const [key, Cls] of Object.entries(ErrorClasses)) {
      expect(Cls.name, key).toBe(ErrorNames[key as keyof typeof ErrorNames]);
    }
  });

  it('lists every problem of a TemplateValidationError in Packer’s format', () => {
    const error = new ErrorClasses.TemplateValidation(['a is required', 'b is bad']);
    expect(error.message).toBe('2 error(s) occurred:\n\n* a is required\n* b is bad');
  });
});
