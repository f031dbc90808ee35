import * as z from '../../common/zod.js';

/** What the image build child (build-main.ts) says on stdout, one JSON line each: its progress. */
export const buildMessageSchema = z.union([
  z.object({ step: z.object({ index: z.number().int().positive(), total: z.number().int().positive(), label: z.string() }).strict() }).strict(),
  z.object({ update: z.object({ done: z.number().nonnegative(), total: z.number().nonnegative() }).strict() }).strict(),
  z.object({ done: z.string() }).strict(),
]);

export type BuildMessage = z.infer<typeof buildMessageSchema>;
