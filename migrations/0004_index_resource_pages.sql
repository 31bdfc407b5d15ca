-- Listing pages (`GET /Users?startIndex=50001&count=100`, an IdP import) walk a tenant's
-- resources of one type in insertion order. Without this index SQLite reads every row of the
-- table (documents included) up to the offset; with it, skipped rows cost an index step each
-- and only the page's rows are read.
CREATE INDEX resources_page ON resources (tenant_id, resource_type, seq);
