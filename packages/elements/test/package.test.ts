/**
 * The package as published: importable in Node without a DOM (server-side
 * rendering, tooling), its Custom Elements Manifest in line with the element,
 * and a package.json that says what a bundler and a registry need.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (file: string): unknown => JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));

interface Manifest {
  readonly modules: readonly {
    readonly path: string;
    readonly declarations: readonly {
      readonly name: string;
      readonly tagName?: string;
      readonly attributes?: readonly { readonly name: string; readonly fieldName?: string }[];
      readonly members?: readonly { readonly kind: string; readonly name: string }[];
    }[];
    readonly exports: readonly { readonly kind: string; readonly name: string }[];
  }[];
}

interface PackageJson {
  readonly name: string;
  readonly type: string;
  readonly license: string;
  readonly sideEffects: readonly string[];
  readonly customElements: string;
  readonly exports: Readonly<Record<string, { readonly types: string; readonly default: string } | string>>;
  readonly files: readonly string[];
  readonly engines: { readonly node: string };
  readonly peerDependencies: Readonly<Record<string, string>>;
}

describe('@rxmux/elements as published', () => {
  it('imports in Node without a DOM, define included', async () => {
    expect(globalThis.customElements).toBeUndefined();
    const elements = await import('@rxmux/elements');
    await import('@rxmux/elements/define');
    expect(typeof elements.rxmuxContext).toBe('symbol');
    expect(elements.RxmuxConnectionElement.observedAttributes).toEqual(['url']);
  });

  it('has a Custom Elements Manifest that matches the element', async () => {
    const { RxmuxConnectionElement } = await import('@rxmux/elements');
    const { RXMUX_CONNECTION_TAG } = await import('@rxmux/elements/define');
    const manifest = read('custom-elements.json') as Manifest;
    const element = manifest.modules.flatMap((m) => m.declarations).find((d) => d.tagName !== undefined);
    expect(element?.name).toBe(RxmuxConnectionElement.name);
    expect(element?.tagName).toBe(RXMUX_CONNECTION_TAG);
    expect(element?.attributes?.map((a) => a.name)).toEqual(RxmuxConnectionElement.observedAttributes);
    const accessors = Object.entries(Object.getOwnPropertyDescriptors(RxmuxConnectionElement.prototype))
      .filter(([, d]) => d.get !== undefined && d.set !== undefined)
      .map(([name]) => name)
      .sort();
    expect(element?.members?.filter((m) => m.kind === 'field').map((m) => m.name).sort()).toEqual(accessors);
    const definition = manifest.modules.find((m) => m.path === 'dist/define.js')?.exports[0];
    expect(definition).toMatchObject({ kind: 'custom-element-definition', name: RXMUX_CONNECTION_TAG });
  });

  it('declares what bundlers and registries need', () => {
    const pkg = read('package.json') as PackageJson;
    expect(pkg).toMatchObject({ name: '@rxmux/elements', type: 'module', license: 'MIT', customElements: 'custom-elements.json', engines: { node: '^20.19.0 || >=22.12.0' } });
    expect(pkg.sideEffects).toContain('./dist/define.js'); // the one module that calls customElements.define
    expect(Object.keys(pkg.exports)).toEqual(['.', './define', './custom-elements.json', './package.json']);
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@rxmux/core', 'rxjs']);
    expect(pkg.files).toContain('custom-elements.json');
  });
});
