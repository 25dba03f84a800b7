-- papi on Snowpark Container Services: the setup of Snowflake's personalization-API tutorial
-- (role DATA_API_ROLE, warehouse DATA_API_WH, database API with schema DATA, a hybrid table of
-- 10,000 TPC-DS customers, image repository API.PUBLIC.API, a compute pool, a service), with the
-- service running papi-httpd instead of the tutorial's Flask app. Run it section by section in a
-- worksheet; the cleanup at the end removes everything again.

-- 1. Role, warehouse, grants (as ACCOUNTADMIN)
USE ROLE ACCOUNTADMIN;
CREATE ROLE IF NOT EXISTS DATA_API_ROLE;
GRANT ROLE DATA_API_ROLE TO ROLE ACCOUNTADMIN;
GRANT CREATE DATABASE ON ACCOUNT TO ROLE DATA_API_ROLE;
GRANT CREATE COMPUTE POOL ON ACCOUNT TO ROLE DATA_API_ROLE;
GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE DATA_API_ROLE;
GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE_SAMPLE_DATA TO ROLE DATA_API_ROLE;

CREATE WAREHOUSE IF NOT EXISTS DATA_API_WH
  WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE;
GRANT USAGE ON WAREHOUSE DATA_API_WH TO ROLE DATA_API_ROLE;

-- 2. Database, schema and the hybrid table (ids 1..10000)
USE ROLE DATA_API_ROLE;
USE WAREHOUSE DATA_API_WH;
CREATE DATABASE IF NOT EXISTS API;
CREATE SCHEMA IF NOT EXISTS API.DATA;

CREATE OR REPLACE HYBRID TABLE API.DATA.HYBRID_CUSTOMER (
  C_CUSTOMER_SK NUMBER(38,0) PRIMARY KEY,
  C_CUSTOMER_ID VARCHAR(16),
  C_CURRENT_CDEMO_SK NUMBER(38,0),
  C_CURRENT_HDEMO_SK NUMBER(38,0),
  C_CURRENT_ADDR_SK NUMBER(38,0),
  C_FIRST_SHIPTO_DATE_SK NUMBER(38,0),
  C_FIRST_SALES_DATE_SK NUMBER(38,0),
  C_SALUTATION VARCHAR(10),
  C_FIRST_NAME VARCHAR(20),
  C_LAST_NAME VARCHAR(30),
  C_PREFERRED_CUST_FLAG VARCHAR(1),
  C_BIRTH_DAY NUMBER(38,0),
  C_BIRTH_MONTH NUMBER(38,0),
  C_BIRTH_YEAR NUMBER(38,0),
  C_BIRTH_COUNTRY VARCHAR(20),
  C_LOGIN VARCHAR(13),
  C_EMAIL_ADDRESS VARCHAR(50),
  C_LAST_REVIEW_DATE VARCHAR(10)
) AS
SELECT C_CUSTOMER_SK, C_CUSTOMER_ID, C_CURRENT_CDEMO_SK, C_CURRENT_HDEMO_SK, C_CURRENT_ADDR_SK,
       C_FIRST_SHIPTO_DATE_SK, C_FIRST_SALES_DATE_SK, C_SALUTATION, C_FIRST_NAME, C_LAST_NAME,
       C_PREFERRED_CUST_FLAG, C_BIRTH_DAY, C_BIRTH_MONTH, C_BIRTH_YEAR, C_BIRTH_COUNTRY, C_LOGIN,
       C_EMAIL_ADDRESS, C_LAST_REVIEW_DATE
FROM SNOWFLAKE_SAMPLE_DATA.TPCDS_SF10TCL.CUSTOMER
ORDER BY C_CUSTOMER_SK
LIMIT 10000;

-- 3. Image repository; then push the image from a machine with Docker:
--   SHOW IMAGE REPOSITORIES IN SCHEMA API.PUBLIC;      -- column repository_url
--   docker build --platform linux/amd64 -f deploy/Dockerfile -t <repository_url>/papi:latest .
--   docker login <registry host> -u <user>             -- or: snow spcs image-registry login
--   docker push <repository_url>/papi:latest
CREATE IMAGE REPOSITORY IF NOT EXISTS API.PUBLIC.API;

-- 4. Compute pool and the service (deploy/spcs/service.yaml, inline), still as DATA_API_ROLE.
--    The role that creates the service owns it, and the session token SPCS gives papi-httpd
--    acts as the service user, whose only roles are that owner role and PUBLIC: the lookups
--    run with DATA_API_ROLE's grants (the table above, the warehouse). Created by another
--    role, the service would query with that role's grants instead; the spec names no role.
CREATE COMPUTE POOL IF NOT EXISTS API
  MIN_NODES = 1
  MAX_NODES = 5
  INSTANCE_FAMILY = CPU_X64_XS;

CREATE SERVICE API.PUBLIC.API
  IN COMPUTE POOL API
  FROM SPECIFICATION $$
spec:
  containers:
  - name: papi
    image: /api/public/api/papi:latest
    # No SNOWFLAKE_ROLE: the session token's user (the service user) holds only the role that
    # owns the service (the role that ran CREATE SERVICE), as its default, and PUBLIC. Lookups
    # run as that owner role; a role named here would fail every lookup unless it were exactly
    # the owner, so the spec stays right whoever creates the service.
    env:
      PAPI_LISTEN: 0.0.0.0:8001
      SNOWFLAKE_WAREHOUSE: DATA_API_WH
      SNOWFLAKE_DATABASE: API
      SNOWFLAKE_SCHEMA: DATA
      PAPI_CACHE_TTL: "180"
      PAPI_MAX_IDS: "100"
    resources:
      requests:
        cpu: 0.5
        memory: 256M
      limits:
        cpu: 1
        memory: 512M
    # /healthz, not /readyz: a probe every 5 s that reached Snowflake would keep the warehouse
    # from ever suspending. /readyz is there for callers that want the source checked.
    readinessProbe:
      port: 8001
      path: /healthz
  endpoints:
  - name: api
    port: 8001
    public: true
    protocol: HTTP
$$
  MIN_INSTANCES = 2
  MAX_INSTANCES = 5
  QUERY_WAREHOUSE = DATA_API_WH;

CALL SYSTEM$GET_SERVICE_STATUS('API.PUBLIC.API');
CALL SYSTEM$GET_SERVICE_LOGS('API.PUBLIC.API', '0', 'papi', 50);
SHOW ENDPOINTS IN SERVICE API.PUBLIC.API;   -- ingress_url: open https://<ingress_url>/test

-- 5. Who may call the endpoint: a role for API callers (and a service user for programs that
--    sign in with a key pair: papi token --endpoint <ingress host> --role API_USER_ROLE).
USE ROLE ACCOUNTADMIN;
CREATE ROLE IF NOT EXISTS API_USER_ROLE;
GRANT USAGE ON DATABASE API TO ROLE API_USER_ROLE;
GRANT USAGE ON SCHEMA API.PUBLIC TO ROLE API_USER_ROLE;
USE ROLE DATA_API_ROLE;
GRANT SERVICE ROLE API.PUBLIC.API!ALL_ENDPOINTS_USAGE TO ROLE API_USER_ROLE;
USE ROLE ACCOUNTADMIN;
CREATE USER IF NOT EXISTS API_USER TYPE = SERVICE DEFAULT_ROLE = API_USER_ROLE;
-- ALTER USER API_USER SET RSA_PUBLIC_KEY = '<public key body>';
GRANT ROLE API_USER_ROLE TO USER API_USER;

-- 6. Cleanup: everything above, in reverse order.
-- USE ROLE DATA_API_ROLE;
-- DROP SERVICE IF EXISTS API.PUBLIC.API;
-- DROP COMPUTE POOL IF EXISTS API;
-- DROP IMAGE REPOSITORY IF EXISTS API.PUBLIC.API;
-- DROP DATABASE IF EXISTS API;
-- USE ROLE ACCOUNTADMIN;
-- DROP USER IF EXISTS API_USER;
-- DROP ROLE IF EXISTS API_USER_ROLE;
-- DROP WAREHOUSE IF EXISTS DATA_API_WH;
-- DROP ROLE IF EXISTS DATA_API_ROLE;
