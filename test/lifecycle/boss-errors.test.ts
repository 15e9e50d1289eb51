import t from 'tap';
import { bossErrorLog } from '../../src/lifecycle/plugin.ts';

// pg-boss emits node-postgres errors with the client attached: the log must not carry it.
const withClient = (code: string) => Object.assign(new Error('terminating connection due to administrator command'), {
  code, client: { connectionParameters: { password: 'secret' }, _types: { builtins: { BOOL: 16 } } } });

t.test('a pg-boss error is logged as message, code and stack, never its client', async (t) => {
  const log = bossErrorLog(withClient('53300'), false);
  t.equal(log.level, 'error');
  t.same(log.fields, { err: { message: 'terminating connection due to administrator command', code: '53300', stack: log.fields.err?.stack } });
  t.match(log.fields.err?.stack, /^Error: terminating connection/);
  t.notMatch(JSON.stringify(log), /secret|builtins/);
});

t.test('the server ending our connections is a warning, and info while this instance closes', async (t) => {
  for (const code of ['57P01', '57P02', '57P03']) {
    t.match(bossErrorLog(withClient(code), false), { level: 'warn', fields: { code } });
    t.match(bossErrorLog(withClient(code), true), { level: 'info', fields: { code } });
    t.notMatch(JSON.stringify(bossErrorLog(withClient(code), false)), /secret|builtins/);
  }
  t.match(bossErrorLog(withClient('53300'), true), { level: 'error' }, 'other errors stay errors while closing');
  t.match(bossErrorLog('not an error', false), { level: 'error', fields: { err: {} } }, 'a thrown non-Error does not throw here');
});
