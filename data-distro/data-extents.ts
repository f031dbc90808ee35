import { execa } from 'execa';

/** Bytes [start, end) of a file that hold data; everywhere else the file reads as zeros (holes). */
export interface Extent {
  start: number;
  end: number;
}

/**
 * filefrag -e's listing as byte ranges, in file order. Its logical offsets are inclusive block
 * numbers, in the block size its header names ("… (262144 blocks of 4096 bytes)").
 */
export function parseFilefrag(text: string): Extent[] {
  const header = /\(\d+ blocks? of (\d+) bytes\)/.exec(text);
  if (!header) throw new Error(`filefrag printed no block size: "${text.split('\n').slice(0, 2).join(' ')}"`);
  const block = Number(header[1]);
  const extents: Extent[] = [];
  for (const m of text.matchAll(/^\s*\d+:\s*(\d+)\.\.\s*(\d+):/gm)) {
    extents.push({ start: Number(m[1]) * block, end: (Number(m[2]) + 1) * block });
  }
  return extents.sort((a, b) => a.start - b.start);
}

/**
 * Where `file` holds data (FIEMAP, through e2fsprogs' filefrag, after it syncs the file), or
 * undefined where the filesystem cannot say (tmpfs): then the whole file is read.
 */
export async function dataExtents(file: string): Promise<Extent[] | undefined> {
  const r = await execa('filefrag', ['-s', '-e', file], { reject: false });
  return r.exitCode === 0 ? parseFilefrag(r.stdout) : undefined;
}
