"""The people of a local stack, in the auth manager it runs (config/airflow.cfg ``[core] auth_manager``).

With the project's FAB auth manager (``execution_plane.compat.fab_auth_manager``) users are rows of the
metadata database: ``provision`` runs ``python -m devtools.auth`` in the stack's environment, which syncs the
project's roles (exactly the permissions the auth manager declares) and creates or updates every user of
``devtools.env.USERS`` with its role and its generated password (.local/secrets.json). With Simple auth
manager the users are the environment's (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS``) and nothing is stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devtools import env as ep_env


def stored_roles(meta_url: str) -> dict[str, list[str]] | None:
    """Username -> role names in the metadata database at ``meta_url``; None before FAB's tables exist."""
    import psycopg2

    conn = psycopg2.connect(meta_url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('ab_user') IS NOT NULL")
            row = cur.fetchone()
            if not row or not row[0]:
                return None
            cur.execute(
                "SELECT u.username, r.name FROM ab_user u LEFT JOIN ab_user_role ur ON ur.user_id = u.id"
                " LEFT JOIN ab_role r ON r.id = ur.role_id WHERE u.active ORDER BY r.name"
            )
            found: dict[str, list[str]] = {}
            for username, role in cur.fetchall():
                found.setdefault(username, []).extend([role] if role else [])
            return found
    finally:
        conn.close()


def ensure(process_env: dict[str, str], sec: ep_env.Secrets) -> str | None:
    """``provision`` unless every user is already there with its role (a stack attached to databases that an
    earlier ``setup`` prepared, maybe before the FAB switch: FAB's tables are created first if missing)."""
    if not ep_env.uses_fab():
        return None
    meta_url = process_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    stored = stored_roles(meta_url)
    if stored is not None and all(stored.get(u) == [ep_env.FAB_ROLES[u]] for u in ep_env.USERS):
        return None
    if stored is None:
        migrated = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            env=process_env,
            capture_output=True,
            text=True,
        )
        if migrated.returncode != 0:
            raise SystemExit(f"airflow db migrate (FAB's tables) failed:\n{migrated.stdout[-3000:]}")
    return provision(process_env, sec)


def provision(process_env: dict[str, str], sec: ep_env.Secrets) -> str:
    """Roles and users in the metadata database of ``process_env`` (FAB only); what was done, for the log."""
    if not ep_env.uses_fab():
        return "Simple auth manager: users from the environment"
    users = {user: {"role": ep_env.FAB_ROLES[user], "password": sec.password(user)} for user in ep_env.USERS}
    result = subprocess.run(
        [sys.executable, "-m", "devtools.auth"],
        input=json.dumps(users),
        env=process_env,
        capture_output=True,
        text=True,
        cwd=ep_env.REPO,
    )
    if result.returncode != 0:
        raise SystemExit(f"creating the FAB roles and users failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def _main() -> None:
    """In the stack's environment: sync the roles, then create or update each user of the JSON on stdin."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    from werkzeug.security import check_password_hash

    from execution_plane.compat.fab_auth_manager import sync_roles

    wanted: dict[str, dict[str, str]] = json.loads(sys.stdin.read())
    created, updated = [], []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        # Building the app synced Airflow's roles and the project's (the auth manager's init_flask_resources);
        # this reports them (and syncs them where [fab] update_fab_perms is off).
        roles = sync_roles(sm)
        for username, spec in wanted.items():
            role = sm.find_role(spec["role"])
            if role is None:
                raise SystemExit(f"role {spec['role']!r} of user {username!r} does not exist")
            user = sm.find_user(username=username)
            if user is None:
                if not sm.add_user(
                    username,
                    username,
                    "(execution plane)",
                    f"{username}@execution-plane.invalid",
                    role,
                    spec["password"],
                ):
                    raise SystemExit(f"FAB could not create user {username!r}")
                created.append(username)
                continue
            if [r.name for r in user.roles] != [role.name] or not user.active:
                user.roles = [role]
                user.active = True
                sm.update_user(user)
                updated.append(username)
            if not check_password_hash(user.password, spec["password"]):
                sm.reset_password(user.id, spec["password"])
                updated.append(username)
    print(
        f"FAB roles {', '.join(f'{name} ({n} permissions)' for name, n in roles.items())}; users: "
        f"{len(created)} created, {len(set(updated))} updated, {len(wanted)} in all"
    )


if __name__ == "__main__":
    _main()
