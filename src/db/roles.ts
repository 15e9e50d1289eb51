import type { Sql } from 'postgres';

/** The role the service may connect as; the migrations grant to it when it exists (sql/000012). */
export const SERVICE_ROLE = 'auction_service';

/**
 * Creates the role when missing, or sets its password: a connection with CREATEROLE (a superuser). Without
 * a password it cannot log in, which is enough for the grants (make schema, the test template).
 */
export async function ensureRole(admin: Sql, role: string, password?: string) {
  const login = password === undefined ? 'nologin' : 'login password %L';
  const [{ stmt }] = await admin<{ stmt: string }[]>`
    select format(case when exists (select from pg_roles where rolname = ${role})
                       then 'alter role %I ' else 'create role %I ' end || ${login}, ${role}::text, ${password ?? null}::text) as stmt`;
  await admin.unsafe(stmt);
}
