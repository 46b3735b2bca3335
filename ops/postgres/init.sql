-- init.sql — one PostgreSQL database for Thought Diary, a role and a schema
-- per daemon, so that each daemon can read and write its own tables and no
-- other's (docs/operations.md, "td-auth on PostgreSQL"). Run by init.sh, as
-- a role that may create roles and databases; idempotent (run it again to
-- change a password).
--
-- psql variables (init.sh sets them from its environment): db, auth_role,
-- auth_password, diary_role, diary_password. Values reach the server as
-- literals (:'var') or quoted identifiers (:"var", format('%I')), never as
-- SQL text.
\set ON_ERROR_STOP on

-- Login roles with no other privilege: they own their schema, nothing else.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'auth_role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'auth_role') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'diary_role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'diary_role') \gexec
-- scram-sha-256 is PostgreSQL 15's default password_encryption.
ALTER ROLE :"auth_role" PASSWORD :'auth_password';
ALTER ROLE :"diary_role" PASSWORD :'diary_password';

SELECT format('CREATE DATABASE %I ENCODING ''UTF8'' TEMPLATE template0', :'db')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"auth_role", :"diary_role";

\connect :"db"
-- Nobody but the owner uses public; each daemon lives in its own schema,
-- which the other role may not even look into (no USAGE).
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION :"auth_role";
CREATE SCHEMA IF NOT EXISTS diary AUTHORIZATION :"diary_role";
REVOKE ALL ON SCHEMA auth FROM PUBLIC;
REVOKE ALL ON SCHEMA diary FROM PUBLIC;
-- The daemons name no schema in their SQL: the role's search_path does.
ALTER ROLE :"auth_role" IN DATABASE :"db" SET search_path = auth;
ALTER ROLE :"diary_role" IN DATABASE :"db" SET search_path = diary;
