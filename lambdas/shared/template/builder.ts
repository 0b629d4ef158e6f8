/**
 * One `amazon-instance` builder object → its part of the build configuration. The decoder is split the way
 * Packer splits its configuration, one module per section, in ./builder/.
 */
export * from './builder/index.js';
