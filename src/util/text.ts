/**
 * Text from files (node, tensor and input names, op types, metadata, data file names) is untrusted:
 * a name holding `ESC ]0;…` or `ESC [2J` would rewrite the user's terminal if printed raw, and a
 * bidi override can make a name read differently from what it is. Everything that reaches the
 * terminal passes through `visible` at the printing sinks (CLI tables, progress lines, error
 * messages), so no path can forget it.
 */

/**
 * Code points that a terminal interprets instead of showing: C0 controls (0x00–0x1f, including
 * ESC, CR and LF — one message stays one line), DEL, C1 controls (0x80–0x9f; 0x9b is a one-byte
 * CSI on some terminals), the bidi marks U+061C, U+200E/U+200F, and the bidi embeddings, overrides
 * and isolates U+202A–U+202E and U+2066–U+2069.
 */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const INVISIBLE_BEYOND_C0 = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every terminal-interpreted code point replaced by its escape as printable ASCII:
 * below U+0100 as `\xHH` (ESC → the four characters `\x1b`), above as `\uHHHH`. A backslash stays
 * as it is, so ordinary Windows paths print unchanged. Idempotent on its own output.
 */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * JSON text safe for a terminal: like `JSON.stringify`, plus C1 controls, DEL and bidi controls
 * written as `\uHHHH` escapes (JSON.stringify leaves them raw). Parses back to the same value.
 */
export function terminalJson(value: unknown, space?: number): string {
  // JSON.stringify already escapes C0 inside strings; the C0 left are the layout's own newlines
  return JSON.stringify(value, null, space).replace(INVISIBLE_BEYOND_C0, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
