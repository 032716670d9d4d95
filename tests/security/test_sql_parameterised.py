"""SQL is always parameterised: a static (ast) scan of plugins/, include/ and dags/.

Every ``<x>.execute / executemany / mogrify / copy_expert / get_records / get_first(...)`` call (and every
``text(...)``) must get SQL built from constants only: a literal, an f-string / ``%`` / ``.format`` /
``+`` / ``join`` whose every part is a literal or a name bound only to such values (a module constant, a
local built from literals), or a ``psycopg2.sql`` composition. Values go in the parameters. Anything
else is a finding, unless allowlisted below with the reason it is safe; an allowlist entry that no
longer matches anything fails too, so the list stays true.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("plugins", "include", "dags")
SQL_METHODS = {"execute", "executemany", "mogrify", "copy_expert", "get_records", "get_first"}
SQLALCHEMY_BUILDERS = {"select", "insert", "update", "delete"}

ALLOWED: dict[tuple[str, str], str] = {
    ("plugins/execution_plane/operators/side_effects.py", "DbUpsertOperator.execute.write"): (
        "table and column names are checked against _SAFE_TABLE_CHARS ([a-z0-9_]) in __init__ and "
        "double-quoted; template rendering touches the values only (dict keys are not rendered); every "
        "value is a %s parameter"
    ),
}


@dataclass(frozen=True)
class Finding:
    path: str
    scope: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.scope}: {self.code}"


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.stack: list[ast.AST] = [tree]
        self.names: list[str] = []
        self.reported_args: set[int] = set()

    # ------------------------------------------------------------------ scopes
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node)
        self.names.append(node.name)
        self.generic_visit(node)
        self.names.pop()
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.append(node.name)
        self.generic_visit(node)
        self.names.pop()

    # ------------------------------------------------------------------ calls
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        is_sql_call = isinstance(func, ast.Attribute) and func.attr in SQL_METHODS
        if is_sql_call and isinstance(func.value, ast.Call) and ast.unparse(func.value.func) == "super":
            is_sql_call = False  # an operator's super().execute(context), not SQL
        is_text = _is_sqlalchemy_text(node) and id(node) not in self.reported_args
        if (is_sql_call or is_text) and node.args and not self.static(node.args[0], len(self.stack) - 1):
            self.findings.append(
                Finding(self.path, ".".join(self.names) or "<module>", node.lineno, ast.unparse(node)[:160])
            )
            self.reported_args.add(id(node.args[0]))
        self.generic_visit(node)

    # ------------------------------------------------------------------ constness
    def static(self, node: ast.AST, level: int) -> bool:
        """Whether ``node`` (seen from scope ``self.stack[level]``) evaluates to constant SQL."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str | int | float | bytes) or node.value is None
        if isinstance(node, ast.JoinedStr):
            return all(self.static(v, level) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.static(node.value, level)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod | ast.Mult):
            return self.static(node.left, level) and self.static(node.right, level)
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.static(e, level) for e in node.elts)
        if isinstance(node, ast.Name):
            return self.static_name(node.id, level)
        if isinstance(node, ast.Call):
            callee = _callee(node)
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
                if _is_sql_composable(node.func.value):
                    return True  # psycopg2.sql: identifiers and literals are quoted by the driver
                args = [*node.args, *(k.value for k in node.keywords)]
                return self.static(node.func.value, level) and all(self.static(a, level) for a in args)
            if callee in ("SQL", "text"):
                return bool(node.args) and self.static(node.args[0], level)
            if _builder_chain(node):
                return True  # SQLAlchemy statements bind their values as parameters
        return False

    def static_name(self, name: str, level: int) -> bool:
        """A name is constant when every binding of it in the nearest scope that binds it is constant."""
        for index in range(level, -1, -1):
            scope = self.stack[index]
            values = _bindings(scope, name)
            if values is None:
                continue
            if not values:
                return False  # a parameter, loop variable, import...: not a known constant
            return all(self.static(value, index) for value in values)
        return False


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _builder_chain(node: ast.AST) -> bool:
    """``select(...)``, ``select(...).where(...).order_by(...)``: a SQLAlchemy statement."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id in SQLALCHEMY_BUILDERS
        if not isinstance(node.func, ast.Attribute):
            return False
        if node.func.attr in SQLALCHEMY_BUILDERS and ast.unparse(node.func.value) in ("sa", "sqlalchemy"):
            return True
        node = node.func.value
    return False


def _is_sqlalchemy_text(node: ast.Call) -> bool:
    """``text(...)`` / ``sa.text(...)`` / ``sqlalchemy.text(...)``, not some object's ``.text`` method."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id == "text"
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "text"
        and ast.unparse(func.value) in ("sa", "sqlalchemy")
    )


def _is_sql_composable(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _callee(node) in ("SQL", "Composed")


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of ``scope`` outside nested functions and classes."""
    found: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _bindings(scope: ast.AST, name: str) -> list[ast.AST] | None:
    """The values bound to ``name`` in ``scope``; [] when bound but not by assignment; None when unbound."""
    values: list[ast.AST] = []
    bound = False
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        every_arg = [
            *scope.args.posonlyargs,
            *scope.args.args,
            *scope.args.kwonlyargs,
            scope.args.vararg,
            scope.args.kwarg,
        ]
        if any(a is not None and a.arg == name for a in every_arg):
            return []
    nodes = _own_nodes(scope)
    targets: set[int] = set()
    for node in nodes:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            values.append(node.value)
            targets.update(id(t) for t in node.targets)
        elif (
            isinstance(node, ast.AnnAssign | ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
        ):
            targets.add(id(node.target))
            if node.value is not None:
                values.append(node.value)
    for node in nodes:
        if (
            isinstance(node, ast.Name)
            and node.id == name
            and isinstance(node.ctx, ast.Store)
            and id(node) not in targets
        ):
            bound = True  # for-loop target, with ... as, walrus, tuple unpacking
        elif isinstance(node, ast.alias):
            bound = bound or (node.asname or node.name).split(".")[0] == name  # an import
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound = bound or node.name == name
    if bound:
        return []
    return values or None


def scan_source(source: str, path: str = "<snippet>") -> list[Finding]:
    tree = ast.parse(source)
    scanner = _Scanner(path, tree)
    scanner.visit(tree)
    return scanner.findings


def scan_repo() -> list[Finding]:
    findings: list[Finding] = []
    for folder in SCANNED:
        for file in sorted((REPO / folder).rglob("*.py")):
            findings.extend(scan_source(file.read_text(), str(file.relative_to(REPO))))
    return findings


def test_repository_sql_is_parameterised() -> None:
    findings = scan_repo()
    unexplained = [f for f in findings if (f.path, f.scope) not in ALLOWED]
    assert unexplained == [], "SQL built from non-constant parts:\n" + "\n".join(map(str, unexplained))


def test_allowlist_has_no_stale_entries() -> None:
    used = {(f.path, f.scope) for f in scan_repo()}
    assert sorted(set(ALLOWED) - used) == []


def test_the_scan_sees_the_repository_sql() -> None:
    """Not vacuous: the scanned trees hold many SQL calls, and the allowlisted one is found."""
    calls = 0
    for folder in SCANNED:
        for file in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in SQL_METHODS
                ):
                    calls += 1
    assert calls >= 40


# ------------------------------------------------------------------------- the checker on known cases
FLAGGED = {
    "f-string with a variable": "def f(cur, name):\n    cur.execute(f'SELECT * FROM t WHERE n = {name}')",
    "percent formatting": "def f(cur, name):\n    cur.execute('SELECT * FROM t WHERE n = %s' % name)",
    "format call": "def f(cur, name):\n    cur.execute('SELECT * FROM {}'.format(name))",
    "concatenation": "def f(cur, name):\n    cur.execute('SELECT * FROM t WHERE n = ' + name)",
    "local built from a parameter": "def f(cur, name):\n    q = f'DELETE FROM {name}'\n    cur.execute(q)",
    "closure over a dynamic local": (
        "def f(conn, table):\n    q = f'SELECT * FROM {table}'\n"
        "    def work(cur):\n        cur.execute(q)\n    return work"
    ),
    "attribute": "class A:\n    def f(self, cur):\n        cur.execute(self.query)",
    "sqlalchemy text with f-string": "def f(s, n):\n    s.execute(text(f'SELECT {n}'))",
    "local reassigned from input": "def f(cur, x):\n    q = 'SELECT 1'\n    q = x\n    cur.execute(q)",
    "loop variable": "def f(cur, qs):\n    for q in qs:\n        cur.execute(q)",
    "get_records with format": "def f(hook, t):\n    hook.get_records('SELECT * FROM %s' % t)",
}

CLEAN = {
    "literal with parameters": "def f(cur, name):\n    cur.execute('SELECT * FROM t WHERE n = %s', (name,))",
    "module constant in f-string": (
        "CHANNEL = 'c'\ndef f(op):\n    op.execute(f\"SELECT pg_notify('{CHANNEL}', 'x')\")"
    ),
    "local built from literals": (
        "def f(cur, only):\n    q = 'UPDATE t SET a = %s'\n    if only:\n        q += ' AND b = ANY(%s)'\n"
        "    cur.execute(q, [1, only])"
    ),
    "psycopg2 sql composition": (
        "from psycopg2 import sql\ndef f(cur, t):\n"
        "    cur.execute(sql.SQL('SELECT * FROM {}').format(sql.Identifier(t)))"
    ),
    "sqlalchemy select": "def f(session, x):\n    session.execute(select(T).where(T.a == x))",
    "operator super().execute": (
        "class O:\n    def execute(self, context):\n        return super().execute(context)"
    ),
    "placeholders from a constant": (
        "def f(cur, vals):\n    cur.execute('SELECT ' + ', '.join(['%s'] * 3), vals)"
    ),
}


@pytest.mark.parametrize("source", FLAGGED.values(), ids=FLAGGED.keys())
def test_checker_flags_built_sql(source: str) -> None:
    assert len(scan_source(textwrap.dedent(source))) == 1


@pytest.mark.parametrize("source", CLEAN.values(), ids=CLEAN.keys())
def test_checker_passes_parameterised_sql(source: str) -> None:
    assert scan_source(textwrap.dedent(source)) == []
