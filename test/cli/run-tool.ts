/**
 * A spool tool run in this process: the same `main` that `bin/haup`, `bin/hadown`, ... run, with
 * its output captured. Much faster than spawning the built program (no Node start-up, etcd3
 * loaded once), so tests that run many tool commands use it and spawn the built ones once.
 */
import { main } from '../../src/cli/haupdown.js'
import type { Action } from '../../src/cli/tool-args.js'
import type { RunResult } from '../helper.js'

const ACTIONS: Record<string, Action> = { haup: 'up', hadown: 'down', hastatus: 'status', hashowdowned: 'status_downed', haweight: 'weight', halist: 'list' }

/** Runs tool `name` (`hadown`, ...) with `argv`; `env` is added to this process's environment. */
export async function runTool (name: string, argv: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  let stdout = ''
  let stderr = ''
  const code = await main(name, argv, ACTIONS[name] ?? 'status', {
    stdout: (text) => { stdout += text },
    stderr: (text) => { stderr += text },
    env: { ...process.env, ...env }
  })
  return { code, stdout, stderr }
}
