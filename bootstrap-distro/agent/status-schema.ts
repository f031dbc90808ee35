import * as z from '../../common/zod.js';

/** What the supervisor reports about the LinuxKit root: one schema, for both ends of the socket. */
export const serviceStatusSchema = z.object({
  name: z.string(),
  state: z.enum(['starting', 'running', 'restarting', 'failed', 'stopped']),
  pid: z.number().int().nullable(),
  restarts: z.number().int(),
  lastExit: z.object({ code: z.number().int().nullable(), signal: z.string().nullable(), at: z.string() }).nullable(),
  /** Seconds since the current process started, or null when none runs. */
  uptime: z.number().nullable(),
});
export type ServiceStatus = z.infer<typeof serviceStatusSchema>;

/** What the engine's cgroup has used (engine-usage.ts): counters since it was made, memory now. */
export const engineUsageSchema = z.object({ cpuNs: z.number(), memoryBytes: z.number(), ioReadBytes: z.number(), ioWriteBytes: z.number() }).partial();
export type EngineUsage = z.infer<typeof engineUsageSchema>;

export const agentStatusSchema = z.object({
  state: z.enum(['starting', 'running', 'stopping']),
  engine: z.enum(['starting', 'ready']),
  /** The supervisor's pid as the berth distro sees it (for `shell`). */
  pid: z.number().int(),
  startedAt: z.string(),
  dockerSocket: z.string(),
  onboot: z.array(z.object({ name: z.string(), exitCode: z.number().int(), seconds: z.number() })),
  services: z.array(serviceStatusSchema),
  /** What keeps the persisted logs from being written now (a full disk), if anything. */
  logWriter: z.string().optional(),
  /** The data store's file system (berth-data's disk). */
  disk: z.object({ sizeBytes: z.number(), availBytes: z.number() }).optional(),
  /** Resource Saver has frozen the engine (present when Resource Saver is on). */
  paused: z.boolean().optional(),
  /** The engine's cgroup's use (present when the engine has its own cgroup). */
  usage: engineUsageSchema.optional(),
});
export type AgentStatus = z.infer<typeof agentStatusSchema>;

/** The answer to POST /stop. */
export const stopReplySchema = z.object({ stopping: z.literal(true) }).strict();
