import { splitBind } from './binds.js';

/** In a container's inspect JSON, replaces the daemon's bind sources with the client's own paths. */
export function rewriteInspect(container: Record<string, unknown>, clientPath: (daemonPath: string) => string | undefined): Record<string, unknown> {
  const host = container.HostConfig as { Binds?: string[]; Mounts?: Array<{ Source?: string }> } | undefined;
  if (host?.Binds) {
    host.Binds = host.Binds.map((b) => {
      const { source, rest } = splitBind(b);
      const client = clientPath(source);
      return client ? `${client}${rest}` : b;
    });
  }
  for (const m of host?.Mounts ?? []) if (m.Source) m.Source = clientPath(m.Source) ?? m.Source;
  for (const m of (container.Mounts as Array<{ Source?: string }> | undefined) ?? []) if (m.Source) m.Source = clientPath(m.Source) ?? m.Source;
  return container;
}
