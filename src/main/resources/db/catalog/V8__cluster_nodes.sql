-- The nodes of a cluster (issue 18.1, GET /admin/cluster): each running node upserts its row every few seconds over
-- its cluster connection, the one that also holds its job leases (session advisory locks); lease_pid is that
-- connection's backend pid, so pg_locks tells which jobs a node holds. A row unseen for 30 s is not live; rows
-- unseen for 10 minutes are deleted by any node, and a node deletes its own row when it stops in order.
CREATE TABLE cluster_nodes (
    id          uuid PRIMARY KEY,
    host        text NOT NULL,
    version     text NOT NULL,
    started_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL DEFAULT now(),
    lease_pid   integer,
    node_jobs   text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX cluster_nodes_last_seen ON cluster_nodes (last_seen);
