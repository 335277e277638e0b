-- One PostgreSQL, two databases: the hub's (POSTGRES_DB) and MUSCode's.
CREATE DATABASE muscode;
