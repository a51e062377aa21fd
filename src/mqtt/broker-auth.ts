// Who may use the embedded broker: anonymous from this machine only, everyone else with the user name and
// password, through the failure limiter and the one-at-a-time verifier the web login shares.
import type { AuthenticateError } from 'aedes';
import type { LoginLimiter } from '../auth/limiter.ts';
import { readPasswordHash } from '../auth/password.ts';
import { VerifierBusyError, type PasswordVerifier } from '../auth/verifier.ts';

export interface BrokerAuthDeps {
  /** The user name remote clients (Home Assistant) log in with. */
  username: string;
  /** Hash files tried in order: the MQTT password (`moncam passwd --mqtt`), else the web password. */
  passwordFiles: string[];
  limiter: LoginLimiter;
  verifier: PasswordVerifier;
}

/** CONNACK return codes (MQTT 3.1.1; aedes maps them for MQTT 5). */
export const SERVER_UNAVAILABLE = 3;
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

export function authError(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

/**
 * Anonymous clients only from loopback (the daemon itself, local tools); everyone else needs
 * `broker.username` and the password, within the shared failure budget. The hash is read per attempt,
 * so `moncam passwd` takes effect at once.
 */
export async function authenticateClient(
  deps: BrokerAuthDeps,
  address: string | undefined,
  username: string | undefined,
  password: Buffer | undefined,
): Promise<AuthenticateError | null> {
  if (username === undefined && password === undefined) {
    return isLoopback(address) ? null : authError(NOT_AUTHORIZED, 'anonymous clients are only allowed from this machine');
  }
  const attempt = deps.limiter.reserve(address);
  if (!attempt.allowed) return authError(NOT_AUTHORIZED, `too many failed logins from this address; retry in ${attempt.retryAfterS} s`);
  if (username !== deps.username || !password) return authError(BAD_CREDENTIALS, 'bad user name or password');
  let hash: string | undefined;
  for (const file of deps.passwordFiles) if ((hash = await readPasswordHash(file))) break;
  if (!hash) return authError(BAD_CREDENTIALS, 'bad user name or password');
  try {
    if (!(await deps.verifier.verify(hash, password.toString('utf8')))) return authError(BAD_CREDENTIALS, 'bad user name or password');
  } catch (err) {
    if (err instanceof VerifierBusyError) return authError(SERVER_UNAVAILABLE, 'too many logins at once; try again');
    throw err;
  }
  attempt.succeeded();
  return null;
}
