// Positions for problems found after load (an unknown `--env`, an unset `${STAGING_URL}`), without
// the YAML library: a skeleton of each file's document (every node's position, every mapping's keys
// with theirs) answers exactly what the syntax tree would. The skeleton is plain JSON, so a cached
// config keeps it, and a command that read the config from the cache can still place a problem.
// load.ts builds it from the syntax tree; this module only reads it.
import type { ConfigProblem } from './loaded.js';

type Path = readonly (string | number)[];

/** A line and a column, 1-based. */
export type Position = readonly [line: number, column: number];

/**
 * One node of a document: where it starts, and for a mapping its pairs in order (the key's value
 * when the key is a plain scalar, else null; where the key starts; the value's node), for a sequence
 * its items. A scalar or an alias has neither.
 */
export interface PositionNode {
  at: Position;
  map?: [key: string | number | boolean | null, keyAt: Position | null, value: PositionNode | null][];
  seq?: (PositionNode | null)[];
}

/** One file of a config, as its skeleton. */
export interface FilePositions {
  file: string;
  /** The document's top-level node. */
  root: PositionNode | null;
}

/** Where the n-th item of the merged list was written: its file (index in the files) and its index there. */
export interface ItemOrigin {
  file: number;
  index: number;
}

const START: Position = [1, 1];

/** A sequence index as the YAML library reads one: a whole number, or a string of one. */
function itemIndex(key: string | number): number | undefined {
  const n = typeof key === 'string' && key !== '' ? Number(key) : key;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** The node at `path` (the YAML library's `getIn` with scalars kept), or undefined. */
export function nodeAt(root: PositionNode | null, path: Path): PositionNode | undefined {
  let node: PositionNode | null | undefined = root;
  for (const key of path) {
    if (!node) return undefined;
    if (node.map) node = node.map.find(([k]) => k === key)?.[2];
    else if (node.seq) {
      const i = itemIndex(key);
      node = i === undefined ? undefined : node.seq[i];
    } else return undefined;
  }
  return node ?? undefined;
}

/** How many leading keys of `path` exist in the file. */
function existingDepth(root: PositionNode | null, path: Path): number {
  for (let n = path.length; n > 0; n--) if (nodeAt(root, path.slice(0, n))) return n;
  return 0;
}

/** The problem at the key `key` of the node at `path`, or at its nearest existing ancestor (load.ts's Locator.at). */
function atKey(f: FilePositions, path: Path, key: string, message: string): ConfigProblem {
  let node: PositionNode | undefined;
  for (let n = path.length; n >= 0 && !node; n--) node = nodeAt(f.root, path.slice(0, n));
  let at = START;
  if (node?.map) at = node.map.find(([k]) => k === key)?.[1] ?? START;
  else if (node) at = node.at;
  return { file: f.file, line: at[0], column: at[1], path: [...path, key].join('.'), message };
}

/**
 * The position of the key that ends `path` in a config built from `files` (the root last): in the
 * file that wrote it, an item at its own index in its own file, any other value in the last file
 * that reaches deepest into its path, as the loader places the problems it finds itself.
 */
export function locateIn(files: readonly FilePositions[], itemOrigins: readonly ItemOrigin[], path: Path, message: string): ConfigProblem {
  const root = files[files.length - 1];
  const key = String(path.at(-1));
  if (path.length <= 1) return atKey(root, [], key, message);
  let src = root;
  let inFile = path;
  const origin = path[0] === 'items' && typeof path[1] === 'number' ? itemOrigins[path[1]] : undefined;
  if (origin) {
    src = files[origin.file];
    inFile = ['items', origin.index, ...path.slice(2)];
  } else {
    let depth = -1;
    for (let f = files.length - 1; f >= 0; f--) {
      const d = existingDepth(files[f].root, path);
      if (d > depth) {
        src = files[f];
        depth = d;
      }
    }
  }
  return atKey(src, inFile.slice(0, -1), key, message);
}
