import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkers } from '../../src/checkers/index.js'
import type { CheckResult } from '../../src/checks/result.js'
import { GroupService } from '../../src/checks/groups.js'
import type { CheckRequest } from '../../src/checks/health.js'
import { makeConfig } from '../../src/config/index.js'

test('groups: members take their outbound slots in the share of the client that asked', async () => {
  const asked: Array<string | undefined> = []
  const pass: CheckResult = { code: 200, message: 'ok', checkStatus: 'L7OK', durationMs: 0 }
  const groups = new GroupService({
    groups: makeConfig({ groups: { web: ['tcp/5432', 'http/8080/health'] } }).checkGroups,
    health: {
      check: async () => pass,
      checkWithoutSpool: async (req: CheckRequest) => { asked.push(req.client); return pass }
    },
    guard: { checkLiteral: () => ({ allowed: true, address: '127.0.0.1' }) },
    checkers,
    failureCode: 503
  })
  assert.equal((await groups.run('web', 0, { noCache: false, client: '10.0.0.7' })).code, 200)
  assert.deepEqual(asked, ['10.0.0.7', '10.0.0.7'])
})
