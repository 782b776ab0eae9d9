/**
 * Names for one line of terminal or error text: a thousand class names
 * would make a line nobody reads, so only the first few are shown.
 */

/** "a, b, c", or the first `max` names then "… and N more". */
export function listNames(names: readonly string[], max = 10): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')}, … and ${names.length - max} more`;
}
