import t from 'tap';
import fc from 'fast-check';
import { ConfigError, configSchema, loadConfig } from '../../src/config.ts';

const names = Object.keys(configSchema.shape);

t.test('any environment either loads into a valid config or fails with a one-line ConfigError', async () => {
  fc.assert(fc.property(
    fc.dictionary(fc.constantFrom(...names), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constantFrom('true', 'no', '-1', '0', '1e3', 'postgres://u@h/db'))),
    (env) => {
      try {
        const c = loadConfig(env);
        return typeof c.databaseUrl === 'string' && Number.isInteger(c.PORT) && c.PORT >= 0 && c.PORT <= 65535;
      } catch (err) {
        return err instanceof ConfigError && /^invalid configuration: [^\n]+$/.test(err.message);
      }
    }), { numRuns: 1000 });
});
