import * as z from '../../common/zod.js';

const linkStateSchema = z.enum(['down', 'starting', 'up', 'restarting', 'failed']);

/** The engine's networking as status reports it (EngineNetwork.status). */
export const networkStatusSchema = z.object({
  state: linkStateSchema,
  helper: z.string(),
  pid: z.number().int().optional(),
  tcpRelayPid: z.number().int().optional(),
  address: z.string(),
  gateway: z.string(),
  restarts: z.number().int(),
  error: z.string().optional(),
  log: z.string().optional(),
  dns: z.string().optional(),
  proxy: z.object({ engine: z.string(), containers: z.string(), problem: z.string().optional() }).optional(),
  certificates: z.object({ count: z.number().int(), registries: z.number().int(), warnings: z.array(z.string()), containers: z.boolean() }).optional(),
});

/**
 * What the backend's `GET /status` answers and `berth status --json` prints (DESIGN.md's
 * contract, plus the progress of a start): one schema for the backend and the CLI.
 */
export const backendStatusSchema = z.object({
  state: z.enum(['stopped', 'starting', 'running', 'failed', 'stopping']),
  endpoint: z.string(),
  services: z.array(z.object({ name: z.string(), state: z.string(), pid: z.number().int().nullable(), restarts: z.number().int() })),
  integrations: z.array(z.object({ distro: z.string(), state: z.string(), detail: z.string().optional() })),
  network: networkStatusSchema.optional(),
  pid: z.number().int().optional(),
  progress: z.string().optional(),
  error: z.string().optional(),
  /** The failure needs the user (a foreign distro in the way): no retry. */
  refused: z.boolean().optional(),
  events: z.array(z.string()).optional(),
  /** The settings file is invalid now: the backend runs on the last good settings. */
  settingsError: z.string().optional(),
  /** Why published ports may lag the containers (the last reconcile failed). */
  portsError: z.string().optional(),
  /** Why the engine's persisted logs are not being written (a full disk). */
  logsError: z.string().optional(),
  /** Resource Saver has paused the engine (state stays `running`: any request resumes it). */
  paused: z.boolean().optional(),
  /** Berth's files changed since this backend started (an update): what to run to use them. */
  update: z.string().optional(),
  /** berth-data's disk while the engine runs: `full` comes with the fix. */
  disk: z
    .object({
      state: z.enum(['ok', 'full']),
      sizeBytes: z.number(),
      usedBytes: z.number(),
      availBytes: z.number(),
      /** What the image file takes on the host's disk (its holes are free), when the manager can see it. */
      imageBytes: z.number().optional(),
      fix: z.string().optional(),
    })
    .optional(),
});
export type BackendStatus = z.infer<typeof backendStatusSchema>;
export type NetworkStatus = z.infer<typeof networkStatusSchema>;

/** What the backend writes as it exits after a stop, for `berth stop` to tell (home.stopReport). */
export const stopReportSchema = z.object({ problems: z.array(z.string()) }).strict();
