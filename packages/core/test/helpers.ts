import { expect } from 'vitest';
import type { DeepEqual } from '@rxmux/core/testing';

/** vitest's deep equality, for `runMarbles` from the test kit. */
export const toEqual: DeepEqual = (actual, expected) => {
  expect(actual).toEqual(expected);
};
