"""Row-level security: a host's database role reads and writes its own host's rows only.

On PostgreSQL only (SQLite is ``make run``: one machine, one owner). Each table a host's
worker touches gets RLS and one policy for every command: the row's host must be one that
``enroll_hosts_of(current_user)`` returns, that is one a live HostCredential names for the
role. The table owner (web, beat, the control worker) is not subject to RLS (it is not
FORCEd), so nothing changes for it. A role with no live credential matches nothing: the
default is to deny. Which commands a host role may run at all is granted at enrolment,
through the database's hosts group (``enroll.rls.GRANTS``); without a grant a table is
closed whatever its policy.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

#: The one place a policy learns which hosts the role acts for. SECURITY DEFINER: a host
#: role has no grant on the credential table; search_path pinned so nothing can shadow it.
FUNCTION = """
CREATE OR REPLACE FUNCTION enroll_hosts_of(role text) RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT host_id FROM enroll_hostcredential WHERE pg_role = role AND revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION enroll_hosts_of(text) FROM PUBLIC;
"""

MINE = "(SELECT enroll_hosts_of(current_user::text))"
#: A backend the role may see (core_backend's own policy applies inside the subquery).
MY_BACKEND = "(SELECT b.id FROM core_backend b)"

#: table -> the condition every row read or written must meet.
POLICIES = {
    "core_host": f"id IN {MINE}",
    "core_backend": f"host_id IN {MINE}",
    # A job of its own host may name only a backend of its own host.
    "core_job": f"host_id IN {MINE} AND (backend_id IS NULL OR backend_id IN {MY_BACKEND})",
    "core_auditevent": f"host_id IN {MINE}",
    "core_sample": f"host_id IN {MINE}",
    "health_checkresult": (
        f"host_id IN {MINE} AND (backend_id IS NULL OR backend_id IN {MY_BACKEND})"
    ),
    "health_backendhealth": f"backend_id IN {MY_BACKEND}",
    "health_hosthealth": f"host_id IN {MINE}",
    "health_healthevent": (
        f"host_id IN {MINE} AND (backend_id IS NULL OR backend_id IN {MY_BACKEND})"
    ),
}


def enable(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table, condition in POLICIES.items():
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS enroll_own_host ON {table}")
        schema_editor.execute(
            f"CREATE POLICY enroll_own_host ON {table} FOR ALL TO PUBLIC "
            f"USING ({condition}) WITH CHECK ({condition})"
        )


def disable(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in POLICIES:
        schema_editor.execute(f"DROP POLICY IF EXISTS enroll_own_host ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    schema_editor.execute("DROP FUNCTION IF EXISTS enroll_hosts_of(text)")


class Migration(migrations.Migration):
    dependencies = [
        ("enroll", "0001_host_credential"),
        ("core", "0005_job_signed_specification"),
        ("health", "0002_default_schedule"),
    ]

    operations = [migrations.RunPython(enable, disable)]
