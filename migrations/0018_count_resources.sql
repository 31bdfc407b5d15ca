-- How many resources of each type a tenant has, and how many it ever removed (issue 29): a
-- plain listing's totalResults was a COUNT(*) over the whole index on every page, and its
-- OFFSET walked the index up to the page. Triggers keep the row exact in the same transaction
-- as the insert or delete, whatever the writer. A new resource always takes the highest `seq`,
-- so it joins the end of the insertion order and every existing position stays put; only a
-- removal moves positions, which is what `removals` tells the page index
-- (`store::page_index`). Rows are never deleted, so `removals` never goes back.
CREATE TABLE resource_counts (
    tenant_id     INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    live          INTEGER NOT NULL,
    removals      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, resource_type)
) WITHOUT ROWID;

INSERT INTO resource_counts (tenant_id, resource_type, live)
SELECT tenant_id, resource_type, COUNT(*) FROM resources GROUP BY tenant_id, resource_type;

CREATE TRIGGER resources_counted_in AFTER INSERT ON resources BEGIN
    INSERT INTO resource_counts (tenant_id, resource_type, live)
    VALUES (NEW.tenant_id, NEW.resource_type, 1)
    ON CONFLICT (tenant_id, resource_type) DO UPDATE SET live = live + 1;
END;

CREATE TRIGGER resources_counted_out AFTER DELETE ON resources BEGIN
    UPDATE resource_counts SET live = live - 1, removals = removals + 1
    WHERE tenant_id = OLD.tenant_id AND resource_type = OLD.resource_type;
END;
