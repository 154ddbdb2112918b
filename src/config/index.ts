import { loadEnv, type Env } from './env.js';
import { loadPolicy, type Policy, type PolicyIssue } from './policy.js';

export { checkEnv, formatEnvIssue, loadEnv, Env, LOG_LEVELS, type EnvIssue, type LogLevel } from './env.js';
export * from './policy.js';

/** Everything patchbot is configured with, validated once at start-up and passed down. */
export interface Config {
  env: Env;
  policy: Policy;
  /** Absolute path of the policy file (or where it was looked for). */
  policyPath: string;
  /** 'defaults' when no file exists at the default path. */
  policySource: 'file' | 'defaults';
  /** Things that are allowed but probably not meant (the app logs them at start). */
  policyWarnings: PolicyIssue[];
  /**
   * Reads a secret from the environment by the name the policy file gives it (webhooks'
   * `secretEnv`); undefined when unset or empty. Secrets are never in the policy file.
   */
  secret: (name: string) => string | undefined;
  /**
   * The credentials of the ITSM integrations: only the environment variables the policy names
   * (itsm.servicenow.auth, itsm.jira), read here with the rest of the environment.
   */
  itsmEnv?: Readonly<Record<string, string | undefined>>;
}

/** The environment variables the policy's ITSM integrations read their credentials from. */
export function itsmEnvNames(policy: Policy): string[] {
  const names: string[] = [];
  const sn = policy.itsm.servicenow;
  if (sn?.enabled) {
    if (sn.auth.kind === 'basic') names.push(sn.auth.usernameEnv, sn.auth.passwordEnv);
    else names.push(sn.auth.clientIdEnv, sn.auth.clientSecretEnv);
  }
  const jira = policy.itsm.jira;
  if (jira?.enabled) names.push(jira.emailEnv, jira.apiTokenEnv);
  return names;
}

/**
 * Reads the environment (default: this process's) and the policy file it names
 * (PATCHBOT_CONFIG, default ./patchbot.yaml). Throws ConfigError naming every problem.
 */
export async function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: { cwd?: string } = {},
): Promise<Config> {
  const parsed = loadEnv(env);
  const loaded = await loadPolicy(parsed.policyPathExplicit ? parsed.policyPath : undefined, options);
  return {
    env: parsed,
    policy: loaded.policy,
    policyPath: loaded.path,
    policySource: loaded.source,
    policyWarnings: loaded.warnings,
    secret: (name) => {
      const v = env[name];
      return v === undefined || v === '' ? undefined : v;
    },
    itsmEnv: Object.fromEntries(itsmEnvNames(loaded.policy).map((n) => [n, env[n]])),
  };
}
