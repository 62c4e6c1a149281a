/**
 * `config/dev.yaml`, what `npm start` serves with, logs in to each database the README quick
 * start asks about (MariaDB and PostgreSQL on this machine, as `.ci/run` provides them).
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildApp } from '../../src/http/app.js'
import { loadConfig } from '../../src/config/index.js'
import { ROOT, tempSpool } from '../helper.js'

test('every check the README quick start shows answers 200 with config/dev.yaml', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const setUp = readme.slice(readme.indexOf('## Set up\n'), readme.indexOf('\n## ', readme.indexOf('## Set up\n') + 1))
  const paths = [...setUp.matchAll(/curl -i (?:-H '[^']*' )?localhost:3333(\/[a-z]+\/[^ ]+)/g)].map((m) => m[1] as string)
  const logins = paths.filter((p) => /^\/(mysql|postgres|redis)\//.test(p))
  assert.deepEqual(logins, ['/mysql/db/3306/', '/postgres/db/5432/'], 'the quick start logs in to MariaDB and PostgreSQL')
  const { config } = await loadConfig(join(ROOT, 'config', 'dev.yaml'))
  const app = await buildApp(config, { spool: await tempSpool(t) })
  t.after(async () => { await app.close() })
  for (const path of logins) {
    const res = await app.inject(path)
    assert.equal(res.statusCode, 200, `${path}: ${res.body}`)
  }
})
