-- Only an item's owner may auction it (an item without an owner, such as one an operator inserted, may be
-- auctioned by anyone): a trigger, so psql writers are held to it as the service is. Its function lives in
-- sql/functions/guards.sql; this first definition lets the trigger exist before the function files run.
create or replace function auction.auctions_before_insert_item_owner() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  v_owner uuid;
begin
  select i.owner_id into v_owner from items i where i.id = new.item_id for share;
  if v_owner is not null and v_owner <> new.creator_id then
    raise exception 'only the owner of item % may auction it', new.item_id using errcode = 'AU016';
  end if;
  return new;
end;
$$;

create trigger auctions_before_insert_item_owner before insert on auction.auctions
  for each row execute function auction.auctions_before_insert_item_owner();
