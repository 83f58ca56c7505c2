/**
 * `@rxmux/core/testing`: test kit (fake socket, marble helpers) for rxmux and for apps using it.
 * @packageDocumentation
 */
export {};
