/**
 * Reads a monitor rule file as JSON or YAML. The extension picks the format:
 * `.json` is JSON, `.yaml` and `.yml` are YAML, and a file with any other
 * name is read as JSON when it parses as JSON, else as YAML.
 *
 * YAML is read strictly, so that a rule file means one thing to every reader:
 * - YAML 1.2 with the core schema, even under a `%YAML 1.1` directive, so
 *   `yes`, `no`, `on` and `off` stay strings;
 * - one document per file, with only string keys and no duplicate keys;
 * - no merge keys, tags, anchors or aliases;
 * - no plain scalar that reads as a number other than the digits written
 *   (`0123`, `0x1F` and `1e3` must be quoted or written as decimals).
 * Syntax errors name the file, line and column. The parsed value then goes
 * through the same checks as a JSON file, whose errors name the rule and key.
 */
import {
  isAlias,
  isMap,
  isScalar,
  LineCounter,
  parseAllDocuments,
  visit,
  type Document,
  type DocumentOptions,
  type ParseOptions,
  type SchemaOptions,
} from 'yaml';
import { InputError } from '../errors.js';
import { RuleSet } from './rules.js';

export type RuleFormat = 'json' | 'yaml';

const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.2',
  schema: 'core',
  merge: false,
  resolveKnownTags: false,
  strict: true,
  // The library compares each key with every earlier key of its map, so a map of
  // 40,000 keys took 15 s here. parseYaml finds duplicates with a set instead.
  uniqueKeys: false,
  stringKeys: true,
  prettyErrors: false,
  logLevel: 'silent',
};

/** Returns the format that the extension of `path` names, or undefined for any other name. */
export function ruleFormat(path: string): RuleFormat | undefined {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  if (ext === 'json') return 'json';
  if (ext === 'yaml' || ext === 'yml') return 'yaml';
  return undefined;
}

function empty(path: string): InputError {
  return new InputError(
    'invalid_argument',
    `rule file ${path} is empty (only blank lines or comments); it needs "rules": a list of rules`,
  );
}

/** Returns the line and column, both from 1, of a character offset in `text`. */
function position(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

/** Returns why `text` is not JSON, on one line, with the line and column when the parser gives an offset. */
function jsonReason(text: string): string {
  try {
    JSON.parse(text);
    return 'no error';
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, ' ');
    const offset = /at position (\d+)/.exec(message);
    if (!offset || /\bline\b/.test(message)) return message;
    const { line, col } = position(text, Number(offset[1]));
    return `${message} (line ${line}, column ${col})`;
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InputError('malformed_json', `rule file ${path} is not JSON: ${jsonReason(text)}`, {
      cause,
    });
  }
}

/** Returns `tag` in the short form for YAML core tags (`!!str`), else in full. */
function shortTag(tag: string): string {
  const core = 'tag:yaml.org,2002:';
  return tag.startsWith(core) ? `!!${tag.slice(core.length)}` : tag;
}

function parseYaml(text: string, path: string): unknown {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter: lines });
  const fail = (offset: number, reason: string) => {
    const { line, col } = lines.linePos(offset);
    return new InputError('invalid_argument', `${path}, line ${line}, column ${col}: ${reason}`);
  };
  if (docs.length === 0) throw empty(path);
  for (const doc of docs) {
    const problem = doc.errors[0];
    if (problem) throw fail(problem.pos[0], problem.message);
  }
  if (docs.length > 1) {
    throw fail(
      docs[1]!.range[0],
      'a second YAML document begins here, but a rule file must contain exactly one',
    );
  }
  const doc = docs[0]!;
  const top = doc.contents;
  if (top === null || (isScalar(top) && top.source === '')) throw empty(path);
  visit(doc, {
    Node(_key, node) {
      const at = node.range?.[0] ?? 0;
      if (isMap(node)) {
        // With stringKeys every key is a scalar whose value is a string.
        const keys = new Set<string>();
        for (const pair of node.items) {
          if (!isScalar(pair.key)) continue;
          const key = String(pair.key.value);
          if (keys.has(key)) {
            throw fail(
              pair.key.range?.[0] ?? at,
              `duplicate key ${JSON.stringify(key)}: map keys must be unique`,
            );
          }
          keys.add(key);
        }
      }
      if (isAlias(node)) {
        throw fail(
          at,
          `alias *${node.source}: anchors and aliases are not allowed, so write the value out`,
        );
      }
      if (node.anchor !== undefined) {
        throw fail(at, `anchor &${node.anchor}: anchors and aliases are not allowed`);
      }
      if (node.tag !== undefined) {
        throw fail(
          at,
          `tag ${shortTag(node.tag)}: tags are not allowed, so quote the value to make it a string`,
        );
      }
      if (isScalar(node) && typeof node.value === 'number' && node.type === 'PLAIN') {
        const source = node.source;
        if (source !== String(node.value)) {
          throw fail(
            at,
            `${source} reads as the number ${String(node.value)}; ` +
              `write it as "${source}" for a string or as a plain decimal for a number`,
          );
        }
      }
    },
  });
  // Warnings come last because the visit explains an unresolved tag better.
  const warning = doc.warnings[0];
  if (warning) throw fail(warning.pos[0], warning.message);

  // The visit above rejected every alias. With 0, toJS also raises on any alias.
  return doc.toJS({ maxAliasCount: 0 });
}

/** Adds the file name to a rule check error. */
function named<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) {
      throw new InputError('invalid_argument', `${path}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** Parses the text of a rule file; `path` picks the format by extension and names the file in errors. */
export function parseRuleFile(text: string, path: string): RuleSet {
  if (text.trim() === '') throw empty(path);
  const format = ruleFormat(path);
  let value: unknown;
  if (format === 'json') value = parseJson(text, path);
  else if (format === 'yaml') value = parseYaml(text, path);
  else {
    try {
      value = JSON.parse(text);
    } catch {
      try {
        value = parseYaml(text, path);
      } catch (yamlError) {
        if (!(yamlError instanceof InputError)) throw yamlError;
        const json = jsonReason(text);
        throw new InputError(
          'invalid_argument',
          `rule file ${path} is neither JSON nor YAML; as JSON: ${json}; as YAML: ${yamlError.message}`,
          { cause: yamlError },
        );
      }
    }
  }
  return named(path, () => RuleSet.fromValue(value));
}
