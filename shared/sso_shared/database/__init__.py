"""The database layout: one PostgreSQL database, a shared schema and a schema per service.
``aliases`` builds the connections from the environment (each service's own role, ``search_path``
its schema then the shared one; a migrate-only alias for the shared tables), ``routers`` decides
which app's tables are created and migrated in which schema, ``schemas`` makes the schemas exist,
``table_rights`` sets what the service roles may do to shared tables, ``shared_schema_keys`` finds
foreign keys the layout cannot hold, and ``locks`` serialises migrations of the shared tables.
"""
