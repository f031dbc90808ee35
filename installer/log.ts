import { join } from 'node:path';
import winston from 'winston';

/** The manager's own log: one file, rotated at 5 MiB into 3 more; level from settings. */
export function managerLogger(logsDir: string, level: string): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf(
        ({ timestamp, level: lvl, message, source }) => `${String(timestamp)},${typeof source === 'string' ? source : 'manager'};${lvl}: ${typeof message === 'string' ? message : JSON.stringify(message)}`,
      ),
    ),
    transports: [new winston.transports.File({ filename: join(logsDir, 'berth.log'), maxsize: 5 * 2 ** 20, maxFiles: 4, tailable: true })],
  });
}
