import { closest, distance } from 'fastest-levenshtein';

/** ` (did you mean 'x'?)` when a candidate is close enough to `word`, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const list = [...candidates].filter((c) => c !== word);
  if (list.length === 0) return '';
  const best = closest(word, list);
  const limit = Math.max(2, Math.floor(Math.max(word.length, best.length) / 3));
  return distance(word, best) <= limit ? ` (did you mean '${best}'?)` : '';
}

/**
 * The one wording of an unknown environment, for every command and the language:
 * `unknown environment 'prodution' (did you mean 'production'?); known environments: production, staging`.
 */
export function unknownEnvironmentMessage(name: string, known: Iterable<string>): string {
  const list = [...known];
  const names = list.length ? `known environments: ${list.join(', ')}` : 'no environment is defined';
  return `unknown environment '${name}'${didYouMean(name, list)}; ${names}`;
}
