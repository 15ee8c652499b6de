-- An operator's rate limit for one tenant (README "Rate limits"): RATE/UNIT,BURST as RateLimit.spec writes it, or
-- 'off' for none. NULL (the default): the node's SILO_RATE_LIMIT_TENANT.
ALTER TABLE tenants ADD COLUMN rate_limit text
    CHECK (rate_limit IS NULL OR rate_limit = 'off' OR rate_limit ~ '^[0-9]{1,9}/(s|min|h),[0-9]{1,9}$');
