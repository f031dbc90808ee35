import { probeJson } from '../../common/http-client.js';
import { paths } from './paths.js';
import { agentStatusSchema, stopReplySchema } from './status-schema.js';

/** The supervisor's status over its control socket; undefined when none runs. */
export const currentStatus = () => probeJson(paths.controlSocket, { path: '/status', timeoutMs: 2000 }, agentStatusSchema);

/** Asks the supervisor to stop; undefined if none answers. */
export const askStop = () => probeJson(paths.controlSocket, { method: 'POST', path: '/stop', timeoutMs: 2000 }, stopReplySchema);
