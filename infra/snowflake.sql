-- Baton's Snowflake side, run once by an account administrator (ACCOUNTADMIN, or SECURITYADMIN
-- for the roles and SYSADMIN for the rest). Replace the four placeholders first:
--   <DATABASE>        the database Baton loads into (SNOWFLAKE_DATABASE), e.g. MARKETS
--   <LAKE_BUCKET>     the lake bucket (BATON_LAKE_BUCKET)
--   <SNOWFLAKE_ROLE_ARN> the IAM role Snowflake assumes to read the lake (the stack's output)
--   <LOADER_USER>     the user Baton connects as (SNOWFLAKE_USER)
--
-- What it sets up:
--   - BATON_LOADER, the role Baton connects with: it writes RAW (COPY from the lake stage) and
--     builds ANALYTICS (the SQL models), and nothing else;
--   - BATON_ANALYST, the read-only role for business users: SELECT on ANALYTICS, nothing in RAW
--     (the marts grant it SELECT as they build: dbt_project.yml `+grants`);
--   - one warehouse for loading and one for querying, so business queries never queue behind loads;
--   - the storage integration and the lake stage the warehouse loads COPY from.

USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS BATON_LOADER COMMENT = 'Baton: loads RAW from the lake and builds ANALYTICS';
CREATE ROLE IF NOT EXISTS BATON_ANALYST COMMENT = 'Business users: read ANALYTICS only';
GRANT ROLE BATON_LOADER TO USER <LOADER_USER>;
ALTER USER <LOADER_USER> SET DEFAULT_ROLE = BATON_LOADER, DEFAULT_WAREHOUSE = BATON_LOAD_WH;

USE ROLE SYSADMIN;
-- Loads are short bursts after each partition; queries are the business day. Each suspends after a minute idle.
CREATE WAREHOUSE IF NOT EXISTS BATON_LOAD_WH
    WAREHOUSE_SIZE = XSMALL AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE
    COMMENT = 'Baton: COPY into RAW and the SQL models';
CREATE WAREHOUSE IF NOT EXISTS BATON_QUERY_WH
    WAREHOUSE_SIZE = SMALL AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE
    COMMENT = 'Business users querying ANALYTICS';

CREATE DATABASE IF NOT EXISTS <DATABASE>;
CREATE SCHEMA IF NOT EXISTS <DATABASE>.RAW COMMENT = 'As delivered, typed: one table per declared dataset';
CREATE SCHEMA IF NOT EXISTS <DATABASE>.ANALYTICS COMMENT = 'The SQL models business users query';

-- The loader owns what it creates in both schemas, and can use its warehouse only.
GRANT USAGE ON DATABASE <DATABASE> TO ROLE BATON_LOADER;
GRANT USAGE, CREATE TABLE, CREATE STAGE ON SCHEMA <DATABASE>.RAW TO ROLE BATON_LOADER;
GRANT USAGE, CREATE TABLE, CREATE VIEW ON SCHEMA <DATABASE>.ANALYTICS TO ROLE BATON_LOADER;
GRANT USAGE, OPERATE ON WAREHOUSE BATON_LOAD_WH TO ROLE BATON_LOADER;

-- The analyst reads the marts in ANALYTICS (each mart grants it SELECT as it builds; staging
-- views grant nothing) and has no usage on RAW at all.
GRANT USAGE ON DATABASE <DATABASE> TO ROLE BATON_ANALYST;
GRANT USAGE ON SCHEMA <DATABASE>.ANALYTICS TO ROLE BATON_ANALYST;
GRANT USAGE ON WAREHOUSE BATON_QUERY_WH TO ROLE BATON_ANALYST;

-- The lake: Snowflake reads s3://<LAKE_BUCKET>/lake/ through an IAM role of the stack's, and
-- the loader may use the integration to create the RAW.LAKE stage (ensure_stage creates it once).
USE ROLE ACCOUNTADMIN;
CREATE STORAGE INTEGRATION IF NOT EXISTS BATON_LAKE
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = '<SNOWFLAKE_ROLE_ARN>'
    STORAGE_ALLOWED_LOCATIONS = ('s3://<LAKE_BUCKET>/lake/');
GRANT USAGE ON INTEGRATION BATON_LAKE TO ROLE BATON_LOADER;
-- DESC STORAGE INTEGRATION BATON_LAKE shows STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID:
-- put them in the trust policy of <SNOWFLAKE_ROLE_ARN>. Baton's settings then name the
-- integration: SNOWFLAKE_STORAGE_INTEGRATION=BATON_LAKE.
DESC STORAGE INTEGRATION BATON_LAKE;
