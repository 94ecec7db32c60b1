// The plugin's logic as a plain function: tested in Node.js without any host.

/**
 * Appends " (expansion)" after each whole-word, case-sensitive occurrence of an
 * acronym, unless the text already contains the expansion.
 */
export function expand(text, table) {
  const lower = text.toLowerCase();
  // Runs of letters and digits. (The component's JavaScript engine is built
  // without ICU, so no \p{...} classes: ASCII letters and digits, and every
  // character from U+00C0 on, except the Latin-1 signs × and ÷.)
  return text.replace(/[0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\uFFFF]+/g, (word) => {
    const long = Object.hasOwn(table, word) ? table[word] : undefined;
    if (long === undefined || lower.includes(long.toLowerCase())) return word;
    return `${word} (${long})`;
  });
}
