// The few parts of js-yaml (a dependency without its own types) that config/fast-yaml.ts uses.
declare module 'js-yaml' {
  export interface Type {
    readonly tag: string;
  }
  export interface Schema {
    extend(types: Type[] | { implicit?: Type[]; explicit?: Type[] }): Schema;
  }
  export const CORE_SCHEMA: Schema;
  export const types: { readonly merge: Type };
  export interface LoadOptions {
    filename?: string;
    schema?: Schema;
    json?: boolean;
    listener?: (event: 'open' | 'close', state: { anchorMap: Record<string, unknown> }) => void;
  }
  export function load(text: string, options?: LoadOptions): unknown;
  const jsyaml: { load: typeof load; CORE_SCHEMA: Schema; types: typeof types };
  export default jsyaml;
}
