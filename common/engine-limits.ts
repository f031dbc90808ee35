/**
 * The bounds of the engine's caps, one set for both ends: the settings schema (the manager)
 * refuses a value outside them, and the agent checks its --memory-mib and --cpus again.
 */
export const ENGINE_LIMITS = {
  /** dockerd alone needs ~100 MiB. */
  memoryMiB: { min: 256 },
  cpus: { min: 0.1, max: 1024 },
} as const;
