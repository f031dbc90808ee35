import * as z from '../zod.js';

export { parseLine } from '../json-lines.js';

/**
 * The port helper's line protocol (`berth-agent ports`, in the WSL namespace, driven by the
 * manager over the helper's stdin/stdout): one JSON object per line each way. Both ends
 * parse with these schemas; a line that does not fit is answered with an error, never acted on.
 */
export const portHelperCommandSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('open'),
      id: z.number().int().nonnegative(),
      key: z.string().min(1).max(128),
      host: z.string().min(1).max(64),
      port: z.number().int().min(1).max(65535),
      proto: z.enum(['tcp', 'udp']).default('tcp'),
      ip: z.string().min(1).max(64).optional(),
      targetPort: z.number().int().min(1).max(65535).optional(),
    })
    .strict(),
  z.object({ op: z.literal('close'), id: z.number().int().nonnegative(), key: z.string().min(1).max(128) }).strict(),
]);
export type PortHelperCommand = z.input<typeof portHelperCommandSchema>;

export const portHelperReplySchema = z.object({ id: z.number().int(), key: z.string().optional(), ok: z.boolean(), error: z.string().optional() }).strict();
export type PortHelperReply = z.infer<typeof portHelperReplySchema>;
