import type { Settings } from '../settings.js';
import type { BackendParts } from './parts.js';

/**
 * The settings as the file says now. A file that turned invalid keeps the last good ones:
 * the backend runs on, and status says what is wrong (`error`), logged once per new error.
 */
export class LastGoodSettings {
  private error: string | undefined;

  constructor(
    private settings: Settings,
    private readonly parts: Pick<BackendParts, 'loadSettings' | 'log'>,
  ) {}

  async current(): Promise<Settings> {
    try {
      this.settings = await this.parts.loadSettings();
      this.error = undefined;
    } catch (e) {
      if (this.error !== (e as Error).message) this.parts.log.error(`${(e as Error).message}; keeping the settings Berth started with`);
      this.error = (e as Error).message;
    }
    return this.settings;
  }

  /** Why the file is not used now, if it is not. */
  get problem(): string | undefined {
    return this.error;
  }
}
