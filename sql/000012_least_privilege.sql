-- Least privilege (issue 14): the service may run as the role auction_service, which reads the tables and
-- calls the functions (the writing ones are security definer) but holds no INSERT, UPDATE or DELETE on any
-- auction table. Grants go to that role only if it exists: creating roles needs CREATEROLE, so the set-up
-- creates it (docs/admin.md). Harmless to run again: psql -f this file after creating the role later.
do $$
begin
  if not exists (select from pg_roles where rolname = 'auction_service') then
    return;
  end if;
  grant usage on schema auction to auction_service;
  grant select on all tables in schema auction to auction_service;
  alter default privileges in schema auction grant select on tables to auction_service;
  -- the service checks the migrations it knows before starting
  grant select on public.auction_migrations, public.auction_function_files to auction_service;
  -- pg-boss: installed and upgraded by the owner, used (jobs, queues, cron) by the service
  if to_regnamespace('pgboss') is not null then
    grant usage on schema pgboss to auction_service;
    grant select, insert, update, delete on all tables in schema pgboss to auction_service;
    grant usage on all sequences in schema pgboss to auction_service;
    alter default privileges in schema pgboss grant select, insert, update, delete on tables to auction_service;
    alter default privileges in schema pgboss grant usage on sequences to auction_service;
  end if;
end
$$;
