"""PostgreSQL catalog SQL: every query inspection sends (a constant number per target, whatever its size).

Objects are grouped server-side by identical ACL (aclitem[] equality: hashing the arrays themselves, not their
text, which is slower at many grantees per table: benchmarks/); `aclexplode` runs once per group, the owner's own
entries left out.
"""

from provisioner.core.kinds import Container, Family, ObjectKind, spec

# Acl items as parallel arrays (grantee, privilege, with grant option, grantor), the owner's own entries left
# out; grantee 0 is PUBLIC. The grantor is named only when it is neither the owner nor the admin: the admin's
# REVOKE removes the grants of those two (a superuser revokes as the owner), not a third role's.
_EXPLODE = """
LEFT JOIN LATERAL (
  SELECT array_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END) AS grantees,
         array_agg(x.privilege_type) AS privs, array_agg(x.is_grantable) AS grantable,
         array_agg(CASE WHEN x.grantor IN ({owner}, (SELECT oid FROM pg_roles WHERE rolname = current_user))
                   THEN NULL ELSE pg_get_userbyid(x.grantor) END) AS grantors
  FROM aclexplode({acl}) x WHERE x.grantee <> {owner}
) a ON true"""

Q_SERVER = """
SELECT current_user, current_setting('server_version'), current_database(),
       (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database())"""

# The cluster's identity, the same through every database and endpoint (Aurora writer or reader, proxies).
Q_IDENTITY = "SELECT 'postgres:' || system_identifier FROM pg_control_system()"

Q_ROLES = """
SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, d.description,
       r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid),
       (SELECT substr(c, 6) FROM unnest(r.rolconfig) c WHERE c LIKE 'role=%' LIMIT 1),
       pg_has_role(current_user, r.oid, 'USAGE'), pg_has_role(current_user, r.oid, 'MEMBER')
FROM pg_roles r LEFT JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass
WHERE r.rolname !~ '^pg_'"""

# Membership options (inherit/set exist from PostgreSQL 16: read through to_jsonb, NULL before), one row per
# (member, role) whatever the number of grantors.
Q_MEMBERSHIPS = """
SELECT pg_get_userbyid(m.member), pg_get_userbyid(m.roleid), bool_or(m.admin_option),
       bool_or((to_jsonb(m) ->> 'inherit_option')::bool), bool_or((to_jsonb(m) ->> 'set_option')::bool)
FROM pg_auth_members m GROUP BY 1, 2"""

# Role settings for every database ('') and per database, the session `role` left to Q_ROLES.
Q_SETTINGS = """
SELECT r.rolname, coalesce(d.datname, ''), c
FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase,
     unnest(s.setconfig) c
WHERE r.rolname !~ '^pg_' AND NOT (s.setdatabase = 0 AND c LIKE 'role=%')"""

# What keeps a role from being dropped, by database ('' = shared objects such as databases): the objects it owns
# anywhere, and in other databases also its privileges and default-privilege entries (DROP OWNED removes those of
# the database it runs in only). An example object is named for the connected database. Read for the roles named
# (those the manifest does not keep), through pg_shdepend's index on the referenced role: its rows for every
# privilege of every role are the bulk of a large catalog.
Q_OWNED = """
SELECT pg_get_userbyid(d.refobjid), coalesce(db.datname, ''),
       count(*) FILTER (WHERE d.deptype = 'o' AND d.classid <> 'pg_default_acl'::regclass),
       count(*) FILTER (WHERE d.deptype = 'a' OR d.classid = 'pg_default_acl'::regclass),
       min(CASE WHEN d.deptype = 'o' AND d.classid <> 'pg_default_acl'::regclass AND d.dbid IN (0, here.oid)
                THEN (SELECT o.type || ' ' || o.identity FROM pg_identify_object(d.classid, d.objid, d.objsubid) o)
           END)
FROM pg_shdepend d LEFT JOIN pg_database db ON db.oid = d.dbid,
     (SELECT oid FROM pg_database WHERE datname = current_database()) here
WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = ANY(ARRAY(SELECT oid FROM pg_roles WHERE rolname = ANY(%s)))
  AND ((d.deptype = 'o' AND d.classid <> 'pg_default_acl'::regclass)
       OR (d.deptype IN ('o', 'a') AND d.dbid NOT IN (0, here.oid)))
GROUP BY 1, 2"""

Q_DATABASES = """
SELECT d.datname, pg_get_userbyid(d.datdba), a.grantees, a.privs, a.grantable, a.grantors
FROM pg_database d""" + _EXPLODE.format(
    acl="coalesce(d.datacl, acldefault('d', d.datdba))", owner="d.datdba") + """
WHERE d.datallowconn AND NOT d.datistemplate"""

Q_SCHEMAS = """
SELECT n.nspname, pg_get_userbyid(n.nspowner), a.grantees, a.privs, a.grantable, a.grantors
FROM pg_namespace n""" + _EXPLODE.format(
    acl="coalesce(n.nspacl, acldefault('n', n.nspowner))", owner="n.nspowner") + """
WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"""

Q_RELATIONS = """
WITH g AS (
  SELECT n.nspname, CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind, c.relowner,
         c.relacl AS acl, array_agg(c.relname) AS names
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  GROUP BY 1, 2, 3, 4
)
SELECT g.nspname, g.kind, g.names, pg_get_userbyid(g.relowner), a.grantees, a.privs, a.grantable, a.grantors
FROM g""" + _EXPLODE.format(
    acl="g.acl", owner="g.relowner")

# Each routine as [its own name, its argument types]: the signature is built from the two (`names.signature`),
# never parsed back from one text (a routine may be called `x(y`).
Q_FUNCTIONS = """
WITH g AS (
  SELECT n.nspname, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner)) AS acl,
         array_agg(ARRAY[p.proname::text, pg_catalog.oidvectortypes(p.proargtypes)]) AS names
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  GROUP BY 1, 2, 3
)
SELECT g.nspname, g.names, pg_get_userbyid(g.proowner), a.grantees, a.privs, a.grantable, a.grantors
FROM g""" + _EXPLODE.format(
    acl="g.acl", owner="g.proowner")

Q_COLUMNS = """
SELECT n.nspname, c.relname, t.attname, a.grantees, a.privs, a.grantable, a.grantors
FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
""" + _EXPLODE.format(acl="t.attacl", owner="c.relowner") + """
WHERE t.attacl IS NOT NULL AND NOT t.attisdropped AND t.attnum > 0"""

Q_DEFAULT_ACLS = """
SELECT pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype, a.grantees, a.privs
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace""" + _EXPLODE.format(
    acl="d.defaclacl", owner="d.defaclrole")

# Types and domains, with their ACL as the server applies it (NULL: the default, USAGE to PUBLIC). Left out: the
# row types of tables, views and sequences, array types (PostgreSQL 14+ marks true arrays with
# array_subscript_handler) and multiranges, whose privileges are those of the relation or of the element or range
# type (GRANT refuses them). Every table has a row type and an array type: the filters are per row, and only a
# composite type looks up its relation, by its index (1 ms at 2,000 tables where an anti-join took 4: benchmarks/).
Q_TYPES = """
WITH g AS (
  SELECT n.nspname, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner)) AS acl, array_agg(t.typname) AS names
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND t.typtype <> 'm'
    AND t.typsubscript <> 'array_subscript_handler'::regproc
    AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
  GROUP BY 1, 2, 3
)
SELECT g.nspname, g.names, pg_get_userbyid(g.typowner), a.grantees, a.privs, a.grantable, a.grantors
FROM g""" + _EXPLODE.format(acl="g.acl", owner="g.typowner")

# The objects of a database that are not in a schema (languages, foreign data wrappers and servers, large
# objects) and, read once per cluster, those of the server (tablespaces, parameters on PostgreSQL 15+): one
# query, a row per kind, owner and ACL. Untrusted languages come apart (no GRANT can name them); large objects
# only when their ACL was ever set (otherwise only their owner can use them); parameters are those of
# pg_settings and any pg_parameter_acl names beyond them (custom ones). 10 is the bootstrap superuser, which
# holds the privileges on parameters.
_OBJECTS: dict[ObjectKind, tuple[str, str, str, str, str, str]] = {
    ObjectKind.LANGUAGE: ("pg_language", "lanname", "lanowner", "coalesce(o.lanacl, acldefault('l', o.lanowner))",
                          "o.lanpltrusted", "true"),
    ObjectKind.FOREIGN_DATA_WRAPPER: ("pg_foreign_data_wrapper", "fdwname", "fdwowner",
                                      "coalesce(o.fdwacl, acldefault('F', o.fdwowner))", "true", "true"),
    ObjectKind.FOREIGN_SERVER: ("pg_foreign_server", "srvname", "srvowner",
                                "coalesce(o.srvacl, acldefault('S', o.srvowner))", "true", "true"),
    ObjectKind.LARGE_OBJECT: ("pg_largeobject_metadata", "oid::text", "lomowner", "o.lomacl", "true",
                              "o.lomacl IS NOT NULL"),
    ObjectKind.TABLESPACE: ("pg_tablespace", "spcname", "spcowner", "coalesce(o.spcacl, acldefault('t', o.spcowner))",
                            "true", "o.spcname NOT IN ('pg_default', 'pg_global')"),
    # every parameter the server knows, with the ACL pg_parameter_acl holds for it (none: nobody was granted)
    ObjectKind.PARAMETER: ("(SELECT lower(s.name) AS parname, a.paracl FROM pg_settings s LEFT JOIN pg_parameter_acl a "
                           "ON a.parname = lower(s.name) UNION SELECT a.parname, a.paracl FROM pg_parameter_acl a)",
                           "parname", "10::oid", "coalesce(o.paracl, acldefault('p', 10))", "true", "true"),
}


def objects_query(major: int, server_wide: bool) -> str:
    """The one query for the kinds of `_OBJECTS` this server has (`KindSpec.first_major`: parameters from 15),
    the server-wide ones (`Container.SERVER`) only when `server_wide` (the connected database of a cluster)."""
    parts = []
    for kind, (table, name, owner, acl, grantable, where) in _OBJECTS.items():
        found = spec(kind)
        if (found.container == Container.SERVER and not server_wide) or major < found.first_major(Family.POSTGRES):
            continue
        parts.append(f"""
  SELECT '{kind.value}'::text AS kind, {owner} AS owner, {acl} AS acl, {grantable} AS grantable,
         array_agg({name}) AS names
  FROM {table} o WHERE {where} GROUP BY 2, 3, 4""")
    return """
WITH g AS (""" + "\n  UNION ALL".join(parts) + """
)
SELECT g.kind, g.names, pg_get_userbyid(g.owner), g.grantable, a.grantees, a.privs, a.grantable, a.grantors
FROM g""" + _EXPLODE.format(acl="g.acl", owner="g.owner")
