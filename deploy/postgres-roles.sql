-- The two database roles (docs/admin.md, "Database roles"). The postgres image runs this once, as
-- POSTGRES_USER, when it initialises an empty data directory (/docker-entrypoint-initdb.d); a volume that
-- already holds a cluster skips it. The passwords are compose.yaml's development ones: change both there.
create role auction_owner login password 'auction_owner';
create role auction_service login password 'auction_service';
-- the owner of the database also owns its schema public (pg_database_owner), where the migrator keeps its tables
alter database auction owner to auction_owner;
