/**
 * wsl.exe writes its own messages as UTF-16LE (with or without a BOM) unless WSL_UTF8=1,
 * and some builds end lines with "\r\r\n". Decode either encoding to plain "\n" text.
 */
export function decodeWslOutput(bytes: Uint8Array | string): string {
  if (typeof bytes === 'string') return normaliseLineEnds(bytes);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text: string;
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) text = buf.subarray(2).toString('utf16le');
  else if (looksLikeUtf16le(buf)) text = buf.toString('utf16le');
  else text = buf.toString('utf8');
  return normaliseLineEnds(text.replace(/^\uFEFF/, ''));
}

/** ASCII text in UTF-16LE has a NUL in most odd positions; UTF-8 text has none. */
function looksLikeUtf16le(buf: Buffer): boolean {
  if (buf.length < 2) return false;
  const pairs = Math.floor(buf.length / 2);
  let oddNuls = 0;
  for (let i = 1; i < buf.length; i += 2) if (buf[i] === 0) oddNuls++;
  return oddNuls / pairs > 0.4;
}

function normaliseLineEnds(text: string): string {
  return text.replace(/\r+\n/g, '\n').replace(/\r/g, '\n');
}

/** The inverse, for a program that speaks like wsl.exe. */
export function encodeWslOutput(text: string, utf8: boolean): Buffer {
  const windowsText = text.replace(/\r?\n/g, '\r\n');
  return utf8 ? Buffer.from(windowsText, 'utf8') : Buffer.from(windowsText, 'utf16le');
}
