-- psql on this database finds the auction tables and functions without the schema name, so an operator can
-- paste the original design's seed SQL (`insert into users (id, name) values (...)`) as it is: auction goes
-- on the database's default search_path, after public. New sessions get it. The service names the schema
-- in every query and does not depend on it. A database cloned with `create database ... template` does not
-- copy per-database settings; `alter database ... set search_path` gives it one.
do $$
begin
  execute format('alter database %I set search_path = "$user", public, auction', current_database());
exception when insufficient_privilege then
  raise warning 'only the owner of database % can put auction on its search_path; psql users write auction.<name>',
    current_database();
end;
$$;
